"""Bailong-bench runs in the workspace database: creating a run with its items, caching answers and
judgements per item, reading results back, and submitting a run as a job.

Every item is a ``bench_items`` row from the start (status ``pending``); the worker writes an item's
answers the moment they exist and its judgement right after, each in its own short transaction, so a
killed worker loses at most the batch it was on. ``generations`` and ``answered_at`` say how often and
when answers were made, which is how a resumed run proves it left finished items alone.

A judge's API key is never written to the database, the job payload or a log. The submitter hands it
to the worker through a file readable only by the user (``<workspace>/secrets/bench-<run>.key``),
removed when the run ends; without one the worker reads the environment variable named in the payload.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update

from core.bench_data import BUNDLED_NAME, BenchQuestion, load_bench, spread
from core.bench_pipeline import ItemState
from core.bench_results import summarise
from core.bench_rules import RuleHit
from core.errors import ConfigError
from core.judge import DEFAULT_KEY_ENV, JUDGE_MAX_TOKENS, Judgment, is_url
from jobs.models import BenchItem, BenchRun, Job, utcnow
from jobs.store import JobError, JobStore


# ---- the key hand-over ----------------------------------------------------------------------------

def secret_path(store: JobStore, run_id: int) -> Path:
    return store.workspace.root / "secrets" / f"bench-{run_id}.key"


def write_secret(store: JobStore, run_id: int, key: str) -> None:
    path = secret_path(store, run_id)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as f:
        f.write(key)


def read_secret(store: JobStore, run_id: int, env_name: str | None) -> str | None:
    path = secret_path(store, run_id)
    if path.is_file():
        return path.read_text(encoding="utf-8").strip() or None
    return os.environ.get(env_name or DEFAULT_KEY_ENV) or None


def drop_secret(store: JobStore, run_id: int) -> None:
    secret_path(store, run_id).unlink(missing_ok=True)


# ---- runs and items -------------------------------------------------------------------------------

def _item_row(run_id: int, q: BenchQuestion) -> BenchItem:
    return BenchItem(run_id=run_id, item_id=q.id, category=q.category, language=q.language, turns=list(q.turns),
                     expected_language=[q.expected_for_turn(t) for t in range(len(q.turns))],
                     reference=list(q.reference) if q.reference else None, status="pending", generations=0, judge_attempts=0)


def create_run(store: JobStore, *, name: str, model: str, judge: str, benchmark: str, settings: dict[str, Any],
               questions: list[BenchQuestion]) -> int:
    with store.db.write() as session, session.begin():
        run = BenchRun(name=name, model=model, judge=judge, benchmark=benchmark, status="queued", settings=settings,
                       created_at=utcnow())
        session.add(run)
        session.flush()
        session.add_all(_item_row(run.id, q) for q in questions)
        return run.id


def _update_run(store: JobStore, run_id: int, **values: Any) -> None:
    with store.db.write() as session, session.begin():
        session.execute(update(BenchRun).where(BenchRun.id == run_id).values(**values))


def attach_job(store: JobStore, run_id: int, job_id: int) -> None:
    _update_run(store, run_id, job_id=job_id)


def set_status(store: JobStore, run_id: int, status: str) -> dict[str, Any]:
    """Record the run's status and its current summary (computed from the items)."""
    summary = summarise(items(store, run_id))
    finished = utcnow() if status in ("succeeded", "failed", "cancelled") else None
    _update_run(store, run_id, status=status, summary=summary, finished_at=finished)
    return summary


def _with_job_status(store: JobStore, runs: list[BenchRun]) -> list[BenchRun]:
    """A worker killed outright cannot mark its run; the job row (marked by the scheduler) says what happened."""
    open_runs = {r.job_id: r for r in runs if r.status in ("queued", "running") and r.job_id is not None}
    if open_runs:
        with store.db.read() as session:
            for job_id, status in session.execute(select(Job.id, Job.status).where(Job.id.in_(list(open_runs)))):
                if status in ("interrupted", "failed", "cancelled"):
                    open_runs[job_id].status = status
    return runs


def get_run(store: JobStore, run_id: int) -> BenchRun:
    with store.db.read() as session:
        run = session.get(BenchRun, run_id)
    if run is None:
        raise JobError(f"no Bailong-bench run {run_id} in {store.workspace.database}")
    return _with_job_status(store, [run])[0]


def list_runs(store: JobStore, limit: int | None = None) -> list[BenchRun]:
    query = select(BenchRun).order_by(BenchRun.id.desc())
    if limit:
        query = query.limit(limit)
    with store.db.read() as session:
        return _with_job_status(store, list(session.scalars(query)))


def delete_run(store: JobStore, run_id: int) -> None:
    with store.db.write() as session, session.begin():
        session.execute(delete(BenchItem).where(BenchItem.run_id == run_id))
        session.execute(delete(BenchRun).where(BenchRun.id == run_id))
    drop_secret(store, run_id)


def run_dict(run: BenchRun) -> dict[str, Any]:
    return {c.key: (v.isoformat() if isinstance(v := getattr(run, c.key), datetime) else v) for c in run.__table__.columns}


def item_dict(item: BenchItem) -> dict[str, Any]:
    return {c.key: (v.isoformat() if isinstance(v := getattr(item, c.key), datetime) else v) for c in item.__table__.columns}


def item_rows(store: JobStore, run_id: int) -> list[BenchItem]:
    with store.db.read() as session:
        return list(session.scalars(select(BenchItem).where(BenchItem.run_id == run_id).order_by(BenchItem.id)))


def items(store: JobStore, run_id: int) -> list[dict[str, Any]]:
    return [item_dict(i) for i in item_rows(store, run_id)]


def item_states(store: JobStore, run_id: int) -> list[ItemState]:
    return [ItemState(item_id=i.item_id, category=i.category, language=i.language, turns=list(i.turns),
                      expected_languages=list(i.expected_language or [i.language] * len(i.turns)),
                      reference=i.reference, answers=i.answers, status=i.status) for i in item_rows(store, run_id)]


def progress_counts(store: JobStore, run_id: int) -> dict[str, int]:
    with store.db.read() as session:
        rows = session.execute(select(BenchItem.status, func.count()).where(BenchItem.run_id == run_id).group_by(BenchItem.status))
        return {status: count for status, count in rows}


class DbSink:
    """Where the pipeline records each answer and judgement as soon as it has one."""

    def __init__(self, store: JobStore, run_id: int) -> None:
        self.store, self.run_id = store, run_id

    def _update(self, item_id: str, **values: Any) -> None:
        with self.store.db.write() as session, session.begin():
            session.execute(update(BenchItem).where(BenchItem.run_id == self.run_id, BenchItem.item_id == item_id).values(**values))

    def save_answers(self, item_id: str, answers: list[str]) -> None:
        self._update(item_id, answers=answers, status="answered", answered_at=utcnow(),
                     generations=BenchItem.generations + 1)

    def save_judgment(self, item_id: str, judgment: Judgment, hits: list[RuleHit], score: float | None) -> None:
        status = "judged" if judgment.parsed or hits else "unparsed"
        self._update(item_id, judge_output=judgment.output, judge_score=judgment.score, rule_hits=[h.as_dict() for h in hits],
                     score=score, status=status, judge_attempts=BenchItem.judge_attempts + judgment.attempts, judged_at=utcnow())


# ---- submitting -----------------------------------------------------------------------------------

def judge_spec(judge: str, judge_model: str | None, key_env: str | None, max_tokens: int = JUDGE_MAX_TOKENS) -> dict[str, Any]:
    """What the worker needs to rebuild the judge: a URL and model name, or a catalog model (no key)."""
    judge = (judge or "").strip()
    if not judge:
        raise ConfigError("judge: give an OpenAI-compatible URL or a model name from the catalog")
    if not 1 <= max_tokens <= 8192:
        raise ConfigError(f"judge_max_tokens: {max_tokens} is not allowed; expected 1 to 8192")
    if is_url(judge):
        return {"kind": "url", "url": judge, "model": (judge_model or "").strip() or None,
                "key_env": key_env or DEFAULT_KEY_ENV, "max_tokens": max_tokens}
    return {"kind": "local", "model": judge, "max_tokens": max_tokens}


def judge_label(spec: dict[str, Any]) -> str:
    if spec["kind"] == "url":
        return f"{spec['model'] or '(first served model)'} @ {spec['url']}"
    return f"local:{spec['model']}"


def submit_bench(store: JobStore, *, model: str, judge: str, judge_model: str | None = None, api_key: str | None = None,
                 key_env: str | None = None, benchmark: str | None = None, limit: int | None = None,
                 generation: dict[str, Any] | None = None, batch_size: int = 8, name: str | None = None,
                 judge_max_tokens: int = JUDGE_MAX_TOKENS) -> tuple[int, Any]:
    """Check the inputs, create the run with its items and queue the job; returns ``(run_id, job)``."""
    from core.inference import GenerationSettings
    from jobs.catalog import resolve_model_spec

    resolve_model_spec(store, model)  # an unknown model fails here, in one line, not later in a worker
    spec = judge_spec(judge, judge_model, key_env, judge_max_tokens)
    if spec["kind"] == "local":
        resolve_model_spec(store, spec["model"])
    generation = {"temperature": 0.0, "max_new_tokens": 512, **(generation or {})}
    GenerationSettings.from_dict(generation)
    if limit is not None and limit < 1:
        raise ConfigError(f"limit: {limit} is not allowed; expected a whole number ≥ 1")
    if not 1 <= batch_size <= 256:
        raise ConfigError(f"batch_size: {batch_size} is not allowed; expected 1 to 256")
    questions = spread(load_bench(benchmark), limit)
    benchmark = benchmark or BUNDLED_NAME
    name = name or f"bench-{model.rstrip('/').rsplit('/', 1)[-1]}"[:64]
    settings = {"generation": generation, "batch_size": batch_size, "limit": limit, "judge": spec}
    run_id = create_run(store, name=name, model=model, judge=judge_label(spec), benchmark=benchmark, settings=settings,
                        questions=questions)
    if api_key:
        write_secret(store, run_id, api_key)
    payload = {"run_id": run_id, "model": model, "judge": spec, "generation": generation, "batch_size": batch_size}
    job = store.submit_task("bench", name, payload, total_steps=2 * len(questions))
    attach_job(store, run_id, job.id)
    return run_id, job
