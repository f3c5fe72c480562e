"""Jobs that are not training runs: corpus imports, vocabulary learning, Bailong-bench runs ...

Every such job is a row like a training job (status, progress, log, cancel), queued and started by the
same scheduler, but its worker calls a task function instead of the trainer. A task kind maps to a
``"module:function"`` string so the worker imports only the code its job needs. The function gets a
``TaskContext`` and returns a one-line summary; it raises a ``BailongError`` to fail with a reason, and
returns early once ``should_stop()`` is true (the job is then recorded as cancelled).
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.workspace import Workspace
from jobs.models import Job

TASKS: dict[str, str] = {
    "corpus": "jobs.corpus_task:run",
    "vocab": "jobs.vocab_task:run",
    "bench": "jobs.bench_task:run",
}


@dataclass
class TaskContext:
    store: Any  # jobs.store.JobStore; typed loosely to keep this module import-light
    job: Job
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def payload(self) -> dict[str, Any]:
        return dict(self.job.config or {})

    @property
    def workspace(self) -> Workspace:
        return self.store.workspace

    @property
    def output_dir(self) -> Path | None:
        return Path(self.job.output_dir) if self.job.output_dir else None

    def should_stop(self) -> bool:
        return self.stop.is_set()

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Record progress on the job row (the Jobs tab's bar) and say it in the log."""
        self.store.record_progress(self.job.id, done, total)
        if message:
            suffix = f"/{total}" if total else ""
            print(f"{done}{suffix} {message}", flush=True)


def task_function(kind: str) -> Callable[[TaskContext], str]:
    from jobs.store import JobError

    target = TASKS.get(kind)
    if target is None:
        raise JobError(f"unknown job kind {kind!r}; known: train, {', '.join(sorted(TASKS))}")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
