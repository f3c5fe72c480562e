"""``bailong jobs ...``: submit, list, show, cancel, resume and follow training jobs from a shell.

Registered into the core CLI through the ``bailong.commands`` entry point. Every command takes
``--home`` and ``--json``; the JSON shapes are a public contract (scripts and the tests read them).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from core.cli import command_adder, print_result
from jobs.models import FINISHED, Job

FOLLOW_POLL_S = 0.5


def store_for(args: argparse.Namespace):
    """The workspace's store for a CLI command; with no scheduler watching, dead workers' jobs are closed first."""
    from jobs.scheduler import mark_lost_workers, scheduler_running
    from jobs.store import open_store

    store = open_store(args.home)
    if not scheduler_running(store.workspace):
        mark_lost_workers(store)  # nobody else is watching; a dead worker's job must not stay "running"
    return store


def _summary(job: Job) -> dict[str, Any]:
    return {"id": job.id, "name": job.name, "status": job.status, "step": job.step, "total_steps": job.total_steps,
            "last_loss": job.last_loss, "created_at": job.created_at.isoformat(), "base_model": job.base_model}


def _submit(args: argparse.Namespace) -> int:
    from core.config import load_config
    from jobs.scheduler import start_detached
    from jobs.store import open_store

    config = load_config(args.config)
    store = open_store(args.home)
    job = store.submit(config, config_dir=Path(args.config).resolve().parent)
    started = start_detached(store.workspace) is not None
    print_result(args, {"id": job.id, "name": job.name, "status": job.status, "scheduler_started": started},
           f"queued job {job.id} ({job.name})" + ("; started the scheduler" if started else ""))
    return 0


def _list(args: argparse.Namespace) -> int:
    jobs = store_for(args).list_jobs(statuses=args.status, limit=args.limit)
    lines = [f"{j.id:>5}  {j.status:<11} {j.step:>6}/{j.total_steps or '?':<6} "
             f"{'' if j.last_loss is None else f'{j.last_loss:.4f}':>8}  {j.name}" for j in jobs]
    print_result(args, [_summary(j) for j in jobs], "\n".join(lines) or "no jobs")
    return 0


def _show(args: argparse.Namespace) -> int:
    store = store_for(args)
    job = store.get(args.id)
    data = job.as_dict()
    data["artifacts"] = [{"kind": a.kind, "path": a.path, "bytes": a.bytes, "sha256": a.sha256} for a in store.artifacts(job.id)]
    text = "\n".join(f"{k}: {v}" for k, v in data.items() if k not in ("config", "artifacts") and v is not None)
    print_result(args, data, text)
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from jobs.models import Status

    outcome = store_for(args).request_cancel(args.id)
    state = "cancelled" if outcome == Status.cancelled else "stopping"
    print_result(args, {"id": args.id, "status": state}, f"job {args.id}: {state}")
    return 0


def _resume(args: argparse.Namespace) -> int:
    from jobs.scheduler import start_detached

    store = store_for(args)
    store.resume(args.id)
    started = start_detached(store.workspace) is not None
    print_result(args, {"id": args.id, "status": "queued", "scheduler_started": started}, f"job {args.id}: queued to resume")
    return 0


def _logs(args: argparse.Namespace) -> int:
    from jobs.logs import tail

    store = store_for(args)
    job = store.get(args.id)
    if not args.follow:
        text = tail(job.log_path, args.lines)
        print_result(args, {"id": job.id, "log_path": job.log_path, "lines": text.splitlines()}, text)
        return 0
    # Follow the open file rather than the path: the worker renames it into the run folder mid-run.
    stream = None
    while True:
        job = store.get(args.id)
        if stream is None and job.log_path and Path(job.log_path).is_file():
            stream = Path(job.log_path).open("r", encoding="utf-8", errors="replace")
        chunk = stream.read() if stream is not None else ""
        if chunk:
            sys.stdout.write(chunk)
            sys.stdout.flush()
        elif job.status in {s.value for s in FINISHED}:
            return 0
        else:
            time.sleep(FOLLOW_POLL_S)


def _scheduler(args: argparse.Namespace) -> int:
    from jobs.scheduler import main

    return main(["--home", args.home] if args.home else [])


def register(subparsers) -> None:
    jobs = subparsers.add_parser("jobs", help="queue and watch training jobs")
    sub = jobs.add_subparsers(dest="jobs_command", required=True)

    command = command_adder(sub)

    command("submit", "queue a run config and start the scheduler if none runs", _submit).add_argument("config")
    listing = command("list", "jobs, newest first", _list)
    listing.add_argument("--status", action="append", help="only this status (repeatable)")
    listing.add_argument("--limit", type=int)
    command("show", "one job in full", _show).add_argument("id", type=int)
    command("cancel", "stop a running job (checkpoint kept) or drop a queued one", _cancel).add_argument("id", type=int)
    command("resume", "requeue a stopped job; it continues from its last checkpoint", _resume).add_argument("id", type=int)
    logs = command("logs", "print a job's log", _logs)
    logs.add_argument("id", type=int)
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until the job ends")
    logs.add_argument("--lines", "-n", type=int, default=50)
    command("scheduler", "run the queue in the foreground (normally started for you)", _scheduler)
