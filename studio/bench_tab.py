"""The Bailong-bench tab: start a run (model, judge, limit), watch it, read its scores, radar and items,
put runs side by side, and export them.

A run is a ``bench`` job: the tab submits it and reads results from the database, so it never loads a
model itself. A typed API key goes straight to the run's private key file (``jobs.bench_store``) and is
never shown again, stored in the database or written to a log.
"""

from __future__ import annotations

import html
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from core.bench_data import BUNDLED_NAME
from core.bench_results import compare, export_csv, export_json, radar_svg, summarise
from jobs import bench_store
from jobs.scheduler import start_detached
from jobs.store import JobStore
from studio.i18n import T
from studio.messages import as_message

REFRESH_S = 2.0
RUN_HEADERS = ["id", "name", "status", "model", "judge", "overall", "done"]
ITEM_HEADERS = ["item", "category", "language", "status", "score", "rules"]


def _model_names(store: JobStore) -> list[str]:
    from jobs.catalog import list_models

    return [spec.name for spec in list_models(store)]


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def run_rows(store: JobStore) -> list[list[Any]]:
    rows = []
    for run in bench_store.list_runs(store, 200):
        counts = bench_store.progress_counts(store, run.id)
        done = counts.get("judged", 0) + counts.get("unparsed", 0)
        summary = run.summary or {}
        rows.append([run.id, run.name, run.status, run.model, run.judge, _fmt(summary.get("overall")),
                     f"{done}/{sum(counts.values())}"])
    return rows


def run_choices(store: JobStore) -> list[tuple[str, int]]:
    # No status in the label: the choices are built once per refresh and a stale "queued" misleads.
    return [(f"#{r.id} {r.name} — {r.model}", r.id) for r in bench_store.list_runs(store, 200)]


def summary_markdown(run: Any, summary: dict[str, Any]) -> str:
    lines = [f"### #{run.id} {html.escape(run.name)} — {run.status}",
             f"model `{run.model}`, judge `{run.judge}`, benchmark `{run.benchmark}`",
             f"**overall {_fmt(summary['overall'])}** — {summary['scored']} scored of {summary['items']}, "
             f"{summary['unparsed']} unparsed, {summary['rule_zero']} zeroed by rules, {summary['pending']} pending", "",
             "| category | score | items | unparsed | rule zero |", "|---|---|---|---|---|"]
    lines += [f"| {c} | {_fmt(r['score'])} | {r['items']} | {r['unparsed']} | {r['rule_zero']} |" for c, r in summary["categories"].items()]
    return "\n".join(lines)


def item_rows(items: list[dict[str, Any]]) -> list[list[Any]]:
    return [[i["item_id"], i["category"], i["language"], i["status"], _fmt(i["score"]),
             "; ".join(h["reason"] for h in i["rule_hits"] or [])] for i in items]


def item_markdown(item: dict[str, Any]) -> str:
    """The drill-down: every turn with its answer, the judge's rationale, the score and the rule hits."""
    parts = [f"### {item['item_id']} — {item['category']} ({item['language']}) — score {_fmt(item['score'])}"]
    if item["rule_hits"]:
        parts.append("**Rules:** " + "; ".join(html.escape(h["reason"]) for h in item["rule_hits"]))
    answers = item["answers"] or []
    for n, turn in enumerate(item["turns"]):
        parts.append(f"**Q{n + 1}:** {html.escape(turn)}")
        if item["reference"] and n < len(item["reference"]) and item["reference"][n]:
            parts.append(f"*Reference:* {html.escape(item['reference'][n])}")
        parts.append(f"**A{n + 1}:** {html.escape(answers[n]) if n < len(answers) else '*(not answered yet)*'}")
    judge_score = _fmt(item["judge_score"])
    parts.append(f"**Judge** (score {judge_score}, {item['judge_attempts']} call(s)):\n\n```\n{item['judge_output'] or ''}\n```")
    return "\n\n".join(parts)


def build_bench(store: JobStore, tab: gr.Tab) -> None:
    with gr.Row():
        model = gr.Dropdown(choices=[], value="default", allow_custom_value=True, label=T("bench.model"), elem_id="bench-model")
        judge = gr.Textbox(label=T("bench.judge"), placeholder="http://127.0.0.1:8000/v1  or  default", elem_id="bench-judge")
        judge_model = gr.Textbox(label=T("bench.judge_model"), elem_id="bench-judge-model")
        api_key = gr.Textbox(label=T("bench.api_key"), type="password", elem_id="bench-api-key")
    with gr.Row():
        benchmark = gr.Textbox(value=BUNDLED_NAME, label=T("bench.benchmark"), elem_id="bench-source")
        limit = gr.Number(value=None, precision=0, minimum=1, label=T("bench.limit"), elem_id="bench-limit")
        max_tokens = gr.Number(value=512, precision=0, minimum=1, label=T("bench.max_new_tokens"), elem_id="bench-max-tokens")
        start = gr.Button(T("start"), variant="primary", elem_id="bench-start", scale=0)
    message = gr.Markdown(elem_id="bench-message")
    runs = gr.Dataframe(headers=RUN_HEADERS, value=run_rows(store), interactive=False, label=T("bench.runs"),
                        elem_id="bench-runs", max_height=240)
    with gr.Row():
        selected = gr.Dropdown(choices=run_choices(store), value=None, label=T("bench.run"), elem_id="bench-run", scale=3)
        export_csv_button = gr.Button(T("bench.export_csv"), size="sm", scale=0)
        export_json_button = gr.Button(T("bench.export_json"), size="sm", scale=0)
    download = gr.File(label=T("bench.download"), visible=False, elem_id="bench-download")
    with gr.Row():
        radar = gr.HTML(elem_id="bench-radar")
        summary = gr.Markdown(elem_id="bench-summary")
    items_table = gr.Dataframe(headers=ITEM_HEADERS, interactive=False, label=T("bench.items"), elem_id="bench-items", max_height=300)
    detail = gr.Markdown(elem_id="bench-item")
    gr.Markdown(f"#### {T('bench.compare')}")
    compared = gr.Dropdown(choices=run_choices(store), multiselect=True, label=T("bench.compare_runs"), elem_id="bench-compare")
    with gr.Row():
        compare_radar = gr.HTML(elem_id="bench-compare-radar")
        compare_table = gr.Dataframe(interactive=False, elem_id="bench-compare-table")
    timer = gr.Timer(REFRESH_S)
    shown = gr.State(None)  # the state last drawn for the selected run; unchanged runs are not redrawn

    @as_message
    def do_start(model, judge, judge_model, api_key, benchmark, limit, max_tokens):
        run_id, job = bench_store.submit_bench(
            store, model=(model or "").strip(), judge=judge, judge_model=judge_model or None, api_key=(api_key or "").strip() or None,
            benchmark=(benchmark or "").strip() or None, limit=int(limit) if limit else None,
            generation={"max_new_tokens": int(max_tokens or 512)})
        start_detached(store.workspace)
        return (f"queued Bailong-bench run {run_id} as job {job.id}", "", run_rows(store),
                gr.update(choices=run_choices(store), value=run_id), gr.update(choices=run_choices(store)))

    def show(run_id):
        if run_id is None:
            return "", "", [], ""
        run = bench_store.get_run(store, int(run_id))
        items = bench_store.items(store, run.id)
        result = summarise(items)
        return radar_svg({f"#{run.id} {run.model}": result}), summary_markdown(run, result), item_rows(items), ""

    @as_message
    def refresh(run_id, last):
        rows = run_rows(store)
        state = None
        if run_id is not None:
            counts = bench_store.progress_counts(store, int(run_id))
            state = (int(run_id), bench_store.get_run(store, int(run_id)).status, tuple(sorted(counts.items())))
        if state == last:
            return rows, gr.skip(), gr.skip(), gr.skip(), gr.skip(), last
        radar_html, text, table, _ = show(run_id)
        return rows, radar_html, text, table, gr.skip(), state

    @as_message
    def pick_item(evt: gr.SelectData, run_id, table):
        if run_id is None:
            return ""
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        item_id = table.iloc[row, 0] if hasattr(table, "iloc") else table[row][0]
        item = next(i for i in bench_store.items(store, int(run_id)) if i["item_id"] == item_id)
        return item_markdown(item)

    @as_message
    def do_compare(run_ids):
        if not run_ids or len(run_ids) < 2:
            return "", None
        summaries = {}
        for run_id in run_ids:
            run = bench_store.get_run(store, int(run_id))
            summaries[f"#{run.id} {run.model}"] = summarise(bench_store.items(store, run.id))
        rows = compare(summaries)
        table = [[r["category"], *(_fmt(r[n]) for n in summaries)] for r in rows]
        return radar_svg(summaries), gr.update(value=table, headers=["category", *summaries])

    def exporter(kind: str):
        @as_message
        def export(run_id):
            if run_id is None:
                raise gr.Error("select a run first", print_exception=False)
            run = bench_store.get_run(store, int(run_id))
            items = bench_store.items(store, run.id)
            text = export_csv(items) if kind == "csv" else export_json(bench_store.run_dict(run), items)
            folder = Path(tempfile.mkdtemp(prefix="bailong-bench-"))
            path = folder / f"bench-run-{run.id}.{kind}"
            path.write_text(text, encoding="utf-8")
            return gr.update(value=str(path), visible=True)
        return export

    start.click(do_start, [model, judge, judge_model, api_key, benchmark, limit, max_tokens],
                [message, api_key, runs, selected, compared])
    selected.change(as_message(show), selected, [radar, summary, items_table, detail], show_progress="hidden")
    timer.tick(refresh, [selected, shown], [runs, radar, summary, items_table, detail, shown], show_progress="hidden")
    items_table.select(pick_item, [selected, items_table], detail)
    compared.change(do_compare, compared, [compare_radar, compare_table])
    export_csv_button.click(exporter("csv"), selected, download)
    export_json_button.click(exporter("json"), selected, download)
    tab.select(as_message(lambda: (gr.update(choices=_model_names(store)), gr.update(choices=run_choices(store)),
                                   gr.update(choices=run_choices(store)))), None, [model, selected, compared])
