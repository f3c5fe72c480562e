"""Where a job's log lives and how to read its end.

The worker's stdout and stderr go to ``<run folder>/worker.log``. A fresh run's folder must not exist
until core has accepted the run (core refuses a non-empty folder that holds no run), so until then the
log is written to ``<home>/logs/job-<id>.log`` and the worker moves it into the run folder once the run
has started; the job row always names the current file.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.run_folder import RunFolder
from core.workspace import Workspace

LOG_NAME = "worker.log"


def run_log(output_dir: str | Path) -> Path:
    return Path(output_dir) / LOG_NAME


def staging_log(workspace: Workspace, job_id: int) -> Path:
    return workspace.root / "logs" / f"job-{job_id}.log"


def initial_log(workspace: Workspace, job_id: int, output_dir: str | Path | None) -> Path:
    """The run folder's log when the run already exists there (a resume), else the staging file (where
    tasks without a run folder keep theirs)."""
    if output_dir and RunFolder(Path(output_dir)).config_file.is_file():
        return run_log(output_dir)
    path = staging_log(workspace, job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def move_into_run(current: Path, output_dir: str | Path | None) -> Path | None:
    """Move the staging log into the run folder once the run has started; the open file keeps being written."""
    if not output_dir:
        return None
    target = run_log(output_dir)
    if current == target or not RunFolder(Path(output_dir)).config_file.is_file():
        return None
    try:
        os.replace(current, target)  # a rename keeps the worker's open descriptors pointing at the file
    except OSError:
        return None  # output_dir on another filesystem: the log stays where it is, and the row says so
    return target


def tail(path: str | Path | None, lines: int = 20, max_bytes: int = 64_000) -> str:
    """The last ``lines`` lines of a log, reading only its end."""
    if not path or not Path(path).is_file():
        return ""
    with Path(path).open("rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - max_bytes))
        text = f.read().decode("utf-8", errors="replace")
    # tqdm-style carriage returns would otherwise show every intermediate state.
    kept = [line.rsplit("\r", 1)[-1] for line in text.splitlines()]
    return "\n".join(kept[-lines:])
