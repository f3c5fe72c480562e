"""Helpers for the job tests: run configs for the tiny model, the real CLI as a subprocess, and waiting.

Schedulers started by these tests exit after two idle seconds; teardown waits for that and only then
stops, by the pid in the lock file, a scheduler this test started that is still there.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def tiny_run(tiny_model_dir, name: str, *, steps: int = 3, save_steps: int = 50, **data: Any) -> dict[str, Any]:
    return {
        "name": name, "base_model": str(tiny_model_dir), "stage": "pretrain",
        "data": {"train": ["sample:tc_corpus"], "seq_len": 32, **data},
        "quant": {"bits": 4}, "lora": {"r": 2, "alpha": 4, "embeddings": False},
        "train": {"max_steps": steps, "batch_size": 1, "save_steps": save_steps, "lr": 1e-3, "warmup_ratio": 0.0},
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, poll: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Cli:
    """``bailong`` run as a real process against one workspace."""

    def __init__(self, workspace, folder: Path) -> None:
        from jobs.store import JobStore

        self.home, self.folder = workspace.root, folder
        self.store = JobStore(workspace)  # for polling in-process; the assertions go through the CLI

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "core.cli", *args, "--home", str(self.home)],
                                capture_output=True, text=True, cwd=REPO, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"bailong {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def submit(self, config: dict[str, Any]) -> int:
        path = self.folder / f"{config['name']}.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return self.json("jobs", "submit", str(path))["id"]

    def show(self, job_id: int) -> dict[str, Any]:
        return self.json("jobs", "show", str(job_id))


@pytest.fixture
def cli(home, tmp_path, monkeypatch) -> Cli:
    monkeypatch.setenv("BAILONG_SCHEDULER_IDLE_S", "2")
    cli = Cli(home, tmp_path)
    yield cli
    from jobs.scheduler import lock_path, scheduler_running

    # A failed test can leave a worker it started training; stop it by the pid its job row records.
    for job in cli.store.running():
        if job.pid:
            try:
                os.kill(job.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    cli.store.close()
    try:
        wait_for(lambda: not scheduler_running(home), 20, "the scheduler to exit")
    except AssertionError:
        pid = int(lock_path(home).read_text().split()[0])
        os.kill(pid, signal.SIGTERM)
        raise
