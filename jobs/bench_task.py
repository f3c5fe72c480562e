"""The ``bench`` job kind: one Bailong-bench run, executed by a worker process.

The job's payload names the run (its items are already in the database), the model under test, the
judge and the generation settings. Items finished before (the job was killed, cancelled or failed and
then resumed) are left alone: the pipeline only answers and judges what is missing. The run's status and
summary follow the job's, and the judge's key file goes once the run has succeeded (a failed run may be resumed and needs it).
"""

from __future__ import annotations

from typing import Any

from core.bench_results import summary_text
from jobs import bench_store
from jobs.tasks import TaskContext


def make_judge(ctx: TaskContext, spec: dict[str, Any], run_id: int, answerer_spec: Any, answerer: Any):
    from core.judge import JUDGE_MAX_TOKENS, LocalJudge, OpenAIJudge

    if spec["kind"] == "url":
        key = bench_store.read_secret(ctx.store, run_id, spec.get("key_env"))
        model = spec.get("model") or OpenAIJudge.served_model(spec["url"], key)
        return OpenAIJudge(spec["url"], model, api_key=key, max_tokens=int(spec.get("max_tokens") or JUDGE_MAX_TOKENS))
    from core.inference import load_engine
    from jobs.catalog import resolve_model_spec

    judge_spec = resolve_model_spec(ctx.store, spec["model"])
    # A judge on the same weights as the model under test shares the loaded model.
    engine = answerer if judge_spec.key == answerer_spec.key else load_engine(judge_spec, ctx.workspace)
    return LocalJudge(engine, max_tokens=int(spec.get("max_tokens") or JUDGE_MAX_TOKENS))


def run(ctx: TaskContext) -> str:
    from core.inference import GenerationSettings, load_engine
    from core.bench_pipeline import run_pipeline
    from jobs.catalog import resolve_model_spec

    payload = ctx.payload
    run_id = int(payload["run_id"])
    store = ctx.store
    bench_store.get_run(store, run_id)
    bench_store.set_status(store, run_id, "running")
    try:
        states = bench_store.item_states(store, run_id)
        spec = resolve_model_spec(store, payload["model"])
        print(f"bench run {run_id}: {len(states)} items, model {spec.name} ({spec.describe()})", flush=True)
        engine = load_engine(spec, ctx.workspace)
        judge = make_judge(ctx, payload["judge"], run_id, spec, engine)
        print(f"bench run {run_id}: judge {judge.name}", flush=True)
        settings = GenerationSettings.from_dict(payload.get("generation") or {})
        report = run_pipeline(states, engine, judge, bench_store.DbSink(store, run_id), settings,
                              batch_size=int(payload.get("batch_size") or 8), progress=ctx.progress,
                              should_stop=ctx.should_stop)
    except BaseException:
        bench_store.set_status(store, run_id, "failed")
        raise
    if report.stopped:
        bench_store.set_status(store, run_id, "cancelled")
        return f"stopped after {report.answered} answers and {report.judged} judgements this time"
    summary = bench_store.set_status(store, run_id, "succeeded")
    bench_store.drop_secret(store, run_id)
    print(summary_text(summary), flush=True)
    print(f"answering took {report.answer_seconds:.1f} s, judging {report.judge_seconds:.1f} s; "
          f"{report.skipped} items were already done", flush=True)
    overall = summary["overall"]
    return f"run {run_id}: overall {'–' if overall is None else f'{overall:.2f}'} over {summary['scored']} items"
