"""The ``corpus`` job kind: import files into a named corpus in a worker process, with progress.

Payload: ``{"name": str, "files": [paths], "pipeline": {...}, "on_bad": "skip"|"fail", "tokenizer": str|None}``.
The studio copies uploads into the workspace first (its temporary files may vanish before the job runs).
"""

from __future__ import annotations

from core.errors import DataError
from jobs.corpora import import_corpus, summary_line
from jobs.tasks import TaskContext

PROGRESS_STEPS = 100  # the job row's bar counts percent of the input bytes


def run(ctx: TaskContext) -> str:
    payload = ctx.payload
    files = payload.get("files") or []
    if not files:
        raise DataError("corpus job: no files to import")

    def progress(done: int, total: int, message: str) -> None:
        step = int(PROGRESS_STEPS * done / max(total, 1))
        if step != getattr(progress, "last", -1):
            progress.last = step
            ctx.progress(step, PROGRESS_STEPS, message)

    manifest = import_corpus(
        ctx.store, files, payload["name"], payload.get("pipeline"), on_bad=payload.get("on_bad", "skip"),
        tokenizer=payload.get("tokenizer"), job_id=ctx.job.id, progress=progress, should_stop=ctx.should_stop,
    )
    if manifest is None:
        return "stopped before the corpus was complete; nothing was kept"
    ctx.progress(PROGRESS_STEPS, PROGRESS_STEPS, "done")
    return summary_line(manifest)
