"""The queue: one scheduler per workspace starts queued jobs in order, each in its own worker process.

Only the holder of an exclusive ``flock`` on ``<home>/scheduler.lock`` schedules; the kernel drops the
lock when that process dies, so a crashed scheduler never blocks the next one and no pid file is trusted.
The scheduler runs detached from whoever started it (``bailong jobs submit`` or the studio), keeps going
while anything is queued or running, and exits after a quiet spell. It also turns the database's
requests into signals: a cancel request becomes SIGTERM, then SIGKILL if the worker has not stopped
within the grace period; and a running job whose worker has died is marked interrupted.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.allocator import env_with_allocator
from core.workspace import Workspace, resolve_home
from jobs import logs
from jobs.models import Job, Status, utcnow
from jobs.store import JobStore

POLL_S = 0.5
CANCEL_GRACE_S = 10.0
IDLE_EXIT_S = float(os.environ.get("BAILONG_SCHEDULER_IDLE_S", "120"))
MAX_RUNNING = int(os.environ.get("BAILONG_MAX_JOBS", "1"))


def lock_path(workspace: Workspace) -> Path:
    return workspace.root / "scheduler.lock"


class SchedulerLock:
    """The workspace's scheduling right: an exclusive, non-blocking flock held for the process's life."""

    def __init__(self, workspace: Workspace) -> None:
        self.path = lock_path(workspace)
        self.file = None

    def acquire(self) -> bool:
        self.file = self.path.open("a+")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            self.file = None
            return False
        # The pid is written for people reading the file; nothing decides anything from it.
        self.file.seek(0)
        self.file.truncate()
        self.file.write(f"{os.getpid()}\n")
        self.file.flush()
        return True

    def release(self) -> None:
        if self.file is not None:
            fcntl.flock(self.file, fcntl.LOCK_UN)
            self.file.close()
            self.file = None


def scheduler_running(workspace: Workspace) -> bool:
    probe = SchedulerLock(workspace)
    if probe.acquire():
        probe.release()
        return False
    return True


def start_detached(workspace: Workspace) -> subprocess.Popen | None:
    """Start a scheduler in its own session unless one holds the lock; it outlives the caller."""
    if scheduler_running(workspace):
        return None
    log = (workspace.root / "logs")
    log.mkdir(parents=True, exist_ok=True)
    with (log / "scheduler.log").open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "jobs.scheduler", "--home", str(workspace.root)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=str(Path(__file__).resolve().parent.parent),
        )


@dataclass
class Running:
    job_id: int
    process: subprocess.Popen
    terminated_at: float | None = None
    killed: bool = False


@dataclass
class Scheduler:
    store: JobStore
    max_running: int = MAX_RUNNING
    idle_exit_s: float = IDLE_EXIT_S
    children: dict[int, Running] = field(default_factory=dict)

    @property
    def workspace(self) -> Workspace:
        return self.store.workspace

    def spawn(self, job: Job) -> None:
        if not self.store.claim(job.id):
            return  # cancelled or removed between reading the queue and now
        log_path = logs.initial_log(self.workspace, job.id, job.output_dir)
        with log_path.open("a") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "jobs.worker", str(job.id), "--home", str(self.workspace.root)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=str(Path(__file__).resolve().parent.parent), env=env_with_allocator(),
            )
        self.store.set_pid(job.id, process.pid, log_path)
        self.children[job.id] = Running(job.id, process)
        print(f"started job {job.id} ({job.name}) as pid {process.pid}", flush=True)

    def reap(self) -> None:
        """Close the rows of workers that exited without closing them (killed, crashed on import ...)."""
        for job_id, child in list(self.children.items()):
            code = child.process.poll()
            if code is None:
                continue
            del self.children[job_id]
            job = self.store.get(job_id)
            if job.status != Status.running.value:
                continue  # the worker recorded its own ending
            tail = logs.tail(job.log_path, 15)
            if child.killed:
                self.store.finish(job_id, Status.cancelled, error=f"did not stop within {CANCEL_GRACE_S:.0f} s of cancel; "
                                  "killed (no checkpoint of the last steps)", reason="cancelled")
            elif code < 0:
                self.store.mark_interrupted(job_id, f"worker killed by signal {-code} (out of memory, or killed by hand); "
                                            f"resume continues from the last checkpoint\n\nLast log lines:\n{tail}")
            else:
                self.store.finish(job_id, Status.failed, error=f"worker exited with status {code} without recording a result"
                                  f"\n\nLast log lines:\n{tail}", reason="crash")

    def mark_lost_workers(self) -> None:
        mark_lost_workers(self.store, {i for i, c in self.children.items() if c.process.poll() is None})

    def forward_cancels(self) -> None:
        now = time.monotonic()
        for job in self.store.running():
            if job.cancel_requested_at is None:
                continue
            child = self.children.get(job.id)
            if child is None:
                # Another scheduler's worker: it sees the request in its own heartbeat; force it if it must.
                waited = (utcnow() - job.cancel_requested_at).total_seconds()
                if waited > CANCEL_GRACE_S and job.pid is not None and worker_alive(job.pid, job.id):
                    os.kill(job.pid, signal.SIGKILL)
                continue
            if child.terminated_at is None:
                child.process.send_signal(signal.SIGTERM)
                child.terminated_at = now
            elif not child.killed and now - child.terminated_at > CANCEL_GRACE_S:
                child.process.kill()
                child.killed = True

    def start_queued(self) -> None:
        for job in self.store.queue():
            if len(self.children) >= self.max_running:
                break
            self.spawn(job)

    def tick(self) -> bool:
        """One round; returns whether there is still work (running or queued)."""
        self.reap()
        self.forward_cancels()
        self.mark_lost_workers()
        self.start_queued()
        return bool(self.children) or bool(self.store.queue())

    def run(self, lock: SchedulerLock) -> None:
        idle_since = time.monotonic()
        while True:
            if self.tick():
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > self.idle_exit_s:
                # Release first, then look once more: a job submitted while we held the lock is either
                # seen here or its submitter found the lock free and started a new scheduler.
                lock.release()
                if not self.store.queue() or not lock.acquire():
                    return
                idle_since = time.monotonic()
            time.sleep(POLL_S)


def mark_lost_workers(store: JobStore, own_live_workers: set[int] = frozenset()) -> list[int]:
    """Running rows with a stale heartbeat and no live worker become interrupted (or cancelled, if asked)."""
    lost = []
    for job in store.find_stale():
        if job.id in own_live_workers:
            continue  # alive but busy (e.g. a huge model loading); the heartbeat thread will catch up
        if job.pid is not None and worker_alive(job.pid, job.id):
            continue
        if job.cancel_requested_at is not None:
            changed = store.finish(job.id, Status.cancelled, error="cancelled; the worker was stopped", reason="cancelled")
        else:
            changed = store.mark_interrupted(job.id, "worker stopped sending heartbeats and is gone; "
                                             "resume continues from the last checkpoint")
        if changed:
            lost.append(job.id)
    return lost


def worker_alive(pid: int, job_id: int) -> bool:
    """Whether ``pid`` is still this job's worker (not a recycled pid), for workers another scheduler started."""
    import psutil

    try:
        command = psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return "jobs.worker" in command and str(job_id) in command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.scheduler", description="run the workspace's job queue")
    parser.add_argument("--home", help="workspace folder")
    parser.add_argument("--max-jobs", type=int, default=MAX_RUNNING, help="jobs run at the same time (default 1)")
    parser.add_argument("--idle-exit", type=float, default=IDLE_EXIT_S, help="seconds with nothing to do before exiting")
    args = parser.parse_args(argv)
    workspace = resolve_home(args.home)
    lock = SchedulerLock(workspace)
    if not lock.acquire():
        print(f"another scheduler already runs the queue of {workspace.root}", file=sys.stderr)
        return 3
    store = JobStore(workspace)
    # Terminating the scheduler must not take workers with it: they were started in our session but
    # the default SIGTERM ends only this process, and workers keep writing their own rows.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"{utcnow().isoformat()} scheduler {os.getpid()} runs {workspace.root}", flush=True)
    try:
        Scheduler(store, max_running=args.max_jobs, idle_exit_s=args.idle_exit).run(lock)
    finally:
        lock.release()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

