"""One scheduler per workspace, decided by an flock, not by a pid file."""

from __future__ import annotations

import subprocess
import sys

from jobs.scheduler import SchedulerLock, scheduler_running, start_detached
from tests.jobs.conftest import REPO


def test_a_second_scheduler_refuses_to_run(home):
    held = SchedulerLock(home)
    assert held.acquire()
    try:
        assert scheduler_running(home)
        assert start_detached(home) is None
        second = subprocess.run([sys.executable, "-m", "jobs.scheduler", "--home", str(home.root)],
                                capture_output=True, text=True, cwd=REPO, timeout=60)
        assert second.returncode == 3
        assert "another scheduler already runs" in second.stderr
    finally:
        held.release()
    assert not scheduler_running(home)


def test_a_stale_pid_in_the_lock_file_does_not_block(home):
    (home.root / "scheduler.lock").write_text("999999\n")  # a dead scheduler's leftovers
    assert not scheduler_running(home)
