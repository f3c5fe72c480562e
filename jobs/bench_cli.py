"""``bailong bench ...``: run Bailong-bench on a model, show a run, compare runs, export results.

``run`` queues a ``bench`` job and follows it to the end (or, with ``--foreground``, runs the same job in
this process). The judge is an OpenAI-compatible URL (``bailong serve`` or a hosted API; its key comes
from the environment variable ``--judge-key-env``, never from the command line) or a catalog model.
Every command takes ``--home`` and ``--json``; errors are one line.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from core.cli import print_result
from jobs.cli import store_for
from jobs.models import FINISHED

POLL_S = 0.5


def _run_result(store, run_id: int) -> dict[str, Any]:
    from jobs import bench_store

    from core.bench_results import summarise

    data = bench_store.run_dict(bench_store.get_run(store, run_id))
    data["summary"] = summarise(bench_store.items(store, run_id))  # current even while the run goes on
    return data


def _follow(store, job_id: int, out) -> Any:
    last = None
    while True:
        job = store.get(job_id)
        if (job.step, job.total_steps) != last:
            last = (job.step, job.total_steps)
            print(f"{job.status}: {job.step}/{job.total_steps or '?'}", file=out, flush=True)
        if job.status in {s.value for s in FINISHED}:
            return job
        time.sleep(POLL_S)


def _run(args: argparse.Namespace) -> int:
    from core.judge import api_key_from_env
    from jobs import bench_store

    store = store_for(args)
    generation = {"max_new_tokens": args.max_new_tokens, "temperature": args.temperature}
    run_id, job = bench_store.submit_bench(
        store, model=args.model, judge=args.judge, judge_model=args.judge_model,
        api_key=api_key_from_env(args.judge_key_env), key_env=args.judge_key_env, benchmark=args.benchmark,
        limit=args.limit, generation=generation, batch_size=args.batch_size, name=args.name,
        judge_max_tokens=args.judge_max_tokens)
    # With --json, stdout carries only the final JSON; progress goes to stderr.
    out = sys.stderr if args.json else sys.stdout
    print(f"Bailong-bench run {run_id} queued as job {job.id}", file=out, flush=True)
    if args.foreground:
        from jobs.worker import run_job

        if store.claim(job.id):
            with contextlib.redirect_stdout(out):
                run_job(store, job.id)
        job = _follow(store, job.id, out)  # a scheduler claimed it first: follow that worker instead
    else:
        from jobs.scheduler import start_detached

        start_detached(store.workspace)
        job = _follow(store, job.id, out)
    data = _run_result(store, run_id)
    data["job"] = {"id": job.id, "status": job.status, "error": job.error}
    from core.bench_results import summary_text

    text = f"run {run_id} ({job.status})\n{summary_text(data['summary'])}"
    if job.error:
        text += f"\n{job.error.splitlines()[0]}"
    print_result(args, data, text)
    return 0 if job.status == "succeeded" else 1


def _show(args: argparse.Namespace) -> int:
    from core.bench_results import summarise, summary_text
    from jobs import bench_store

    store = store_for(args)
    data = _run_result(store, args.run)
    items = bench_store.items(store, args.run)
    data["summary"] = summarise(items)
    if args.items or args.json:
        data["items"] = items
    lines = [f"run {args.run}: {data['name']} — {data['status']}", f"model {data['model']}, judge {data['judge']}, "
             f"benchmark {data['benchmark']}", summary_text(data["summary"])]
    if args.items:
        for item in items:
            rules = "; ".join(h["reason"] for h in item["rule_hits"] or [])
            score = "–" if item["score"] is None else f"{item['score']:g}"
            lines.append(f"{item['item_id']:<28}{item['status']:<10}{score:>5}  {rules}")
    print_result(args, data, "\n".join(lines))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from core.bench_results import compare, summarise
    from jobs import bench_store

    if len(args.runs) < 2:
        from core.errors import ConfigError

        raise ConfigError("compare: give two or more run ids")
    store = store_for(args)
    summaries = {}
    for run_id in args.runs:
        run = bench_store.get_run(store, run_id)
        summaries[f"#{run_id} {run.model}"] = summarise(bench_store.items(store, run_id))
    rows = compare(summaries)
    names = list(summaries)
    header = f"{'category':<22}" + "".join(f"{n[:18]:>20}" for n in names)
    body = [f"{r['category']:<22}" + "".join(f"{'–' if r[n] is None else format(r[n], '.2f'):>20}" for n in names) for r in rows]
    print_result(args, {"runs": names, "rows": rows}, "\n".join([header, *body]))
    return 0


def _list(args: argparse.Namespace) -> int:
    from jobs import bench_store

    runs = [bench_store.run_dict(r) for r in bench_store.list_runs(store_for(args), args.limit)]
    lines = [f"{r['id']:>4}  {r['status']:<10} {'' if not r['summary'] or r['summary'].get('overall') is None else format(r['summary']['overall'], '.2f'):>6}"
             f"  {r['model']}  (judge {r['judge']})" for r in runs]
    print_result(args, runs, "\n".join(lines) or "no Bailong-bench runs")
    return 0


def _export(args: argparse.Namespace) -> int:
    from core.bench_results import export_csv, export_json
    from jobs import bench_store

    store = store_for(args)
    run = bench_store.run_dict(bench_store.get_run(store, args.run))
    items = bench_store.items(store, args.run)
    text = export_csv(items) if args.format == "csv" else export_json(run, items)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print_result(args, {"path": str(Path(args.output).resolve())}, f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _with_common(parser: argparse.ArgumentParser, func) -> argparse.ArgumentParser:
    parser.add_argument("--home", help="workspace folder (default: $BAILONG_HOME or ~/.bailong-studio)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=func)
    return parser


def register(subparsers) -> None:
    bench = subparsers.add_parser("bench", help="Bailong-bench: bilingual instruction following, LLM-judged")
    sub = bench.add_subparsers(dest="bench_command", required=True)

    run = _with_common(sub.add_parser("run", help="answer the benchmark with a model and judge it"), _run)
    run.add_argument("--model", required=True, help="model under test: default, a folder, job:NAME ... (see the catalog)")
    run.add_argument("--judge", required=True, help="an OpenAI-compatible URL (http://127.0.0.1:8000/v1) or a catalog model")
    run.add_argument("--judge-model", help="the model name to ask for at the URL (default: the first it serves)")
    run.add_argument("--judge-key-env", default=None, help="environment variable holding the judge's API key "
                     "(default: BAILONG_JUDGE_API_KEY)")
    run.add_argument("--judge-max-tokens", type=int, default=512, help="longest judge reply, in tokens")
    run.add_argument("--benchmark", default=None, help="bundled (default), a .json/.jsonl file, or a hub id")
    run.add_argument("--limit", type=int, help="only N items, taken round-robin over the categories")
    run.add_argument("--max-new-tokens", type=int, default=512, help="longest answer, in tokens")
    run.add_argument("--temperature", type=float, default=0.0, help="0 answers greedily (repeatable runs)")
    run.add_argument("--batch-size", type=int, default=8, help="conversations answered in one generate call")
    run.add_argument("--name", help="run name (default: bench-MODEL)")
    run.add_argument("--foreground", action="store_true", help="run here instead of in a worker process")
    show = _with_common(sub.add_parser("show", help="one run: scores per category (and items with --items)"), _show)
    show.add_argument("run", type=int)
    show.add_argument("--items", action="store_true", help="list every item with its score and rule hits")
    compared = _with_common(sub.add_parser("compare", help="two or more runs side by side per category"), _compare)
    compared.add_argument("runs", type=int, nargs="+")
    _with_common(sub.add_parser("list", help="Bailong-bench runs, newest first"), _list).add_argument("--limit", type=int)
    export = _with_common(sub.add_parser("export", help="a run's items and scores as CSV or JSON"), _export)
    export.add_argument("run", type=int)
    export.add_argument("--format", choices=["csv", "json"], default="json")
    export.add_argument("--output", "-o", help="file to write (default: stdout)")
