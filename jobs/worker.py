"""``python -m jobs.worker JOB_ID --home DIR``: run one job (training, or a task of ``jobs.tasks``) and record it.

The scheduler starts one worker per job with stdout/stderr pointed at the job's log. The worker marks
progress (metrics and a heartbeat at least every few seconds) in the database, treats SIGTERM or a
cancel request in the row as "stop at the next step" (core then saves a checkpoint), and always leaves
the job in a final state with a readable error: the engine's one-line reason plus the log's last lines.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

from core.errors import BailongError
from core.run_folder import RunFolder
from core.workspace import resolve_home
from jobs import logs
from jobs.models import Status
from jobs.store import JobStore, file_sha256

HEARTBEAT_S = 2.0


class Heartbeat(threading.Thread):
    """Writes the heartbeat, notices cancel requests and moves the log into the run folder once it exists."""

    def __init__(self, store: JobStore, job_id: int, output_dir: str, log_path: Path | None, stop: threading.Event) -> None:
        super().__init__(daemon=True, name="heartbeat")
        self.store, self.job_id, self.output_dir, self.log_path, self.stop = store, job_id, output_dir, log_path, stop
        self.done = threading.Event()

    def beat(self) -> None:
        if self.store.heartbeat(self.job_id):
            self.stop.set()
        if self.log_path is not None:
            moved = logs.move_into_run(self.log_path, self.output_dir)
            if moved is not None:
                self.log_path = moved
                self.store.set_log_path(self.job_id, moved)

    def run(self) -> None:
        while not self.done.wait(HEARTBEAT_S):
            try:
                self.beat()
            except Exception as error:  # a locked database for 30 s must not kill the run; the next beat retries
                print(f"heartbeat: {error}", file=sys.stderr, flush=True)


def _tokenizer_identity(base_model: str, folder: RunFolder) -> str:
    tokenizer = folder.adapter / "tokenizer.json"
    if tokenizer.is_file():
        return f"{base_model}@sha256:{file_sha256(tokenizer)[:16]}"
    return base_model


def _data_lineage(paths: list[str]) -> list[dict]:
    out = []
    for name in paths:
        path = Path(name)
        out.append({"path": name, "bytes": path.stat().st_size, "sha256": file_sha256(path)} if path.is_file() else {"path": name})
    return out


def _artifacts(folder: RunFolder, stopped: bool) -> list[tuple[str, Path]]:
    found = [("config", folder.config_file), ("metrics", folder.metrics_file), ("summary", folder.summary_file)]
    if stopped:
        checkpoint = folder.latest_checkpoint()
        if checkpoint is not None:
            found += [("checkpoint", p) for p in sorted(checkpoint.iterdir()) if p.is_file()]
    else:
        found += [("adapter", p) for p in sorted(folder.adapter.iterdir()) if p.is_file()]
    return found


def failure_text(message: str, log_path: Path | None) -> str:
    last = logs.tail(log_path, 15)
    return f"{message}\n\nLast log lines:\n{last}" if last else message


def _fail(store: JobStore, job_id: int, error: Exception, log_path: Path | None) -> Status:
    if isinstance(error, BailongError):
        print(f"error: {error}", file=sys.stderr, flush=True)
        store.finish(job_id, Status.failed, error=failure_text(f"{error.reason}: {error}", log_path), reason=error.reason)
        return Status.failed
    traceback.print_exc()
    sys.stderr.flush()
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    message = f"crashed: {type(error).__name__}: {first}"
    store.finish(job_id, Status.failed, error=failure_text(message, log_path), reason="crash")
    return Status.failed


def _run_task(store: JobStore, job, stop: threading.Event, heartbeat: Heartbeat) -> Status:
    from jobs.tasks import TaskContext, task_function

    print(f"job {job.id}: starting {job.kind} task {job.name}", flush=True)
    try:
        summary = task_function(job.kind)(TaskContext(store, job, stop))
    except Exception as error:
        return _fail(store, job.id, error, heartbeat.log_path)
    if stop.is_set():
        print(f"job {job.id}: cancelled", flush=True)
        store.finish(job.id, Status.cancelled, error=f"cancelled; {summary}" if summary else "cancelled", reason="cancelled")
        return Status.cancelled
    print(f"job {job.id}: done. {summary or ''}", flush=True)
    store.finish(job.id, Status.succeeded)
    return Status.succeeded


def run_job(store: JobStore, job_id: int) -> Status:
    from core.config import parse_config

    job = store.get(job_id)
    if job.status == Status.queued.value:
        store.claim(job_id)  # started by hand rather than by the scheduler
    elif job.status != Status.running.value:
        print(f"job {job_id} is {job.status}; nothing to run", file=sys.stderr)
        return Status(job.status)
    store.set_pid(job_id, os.getpid())
    log_path = Path(job.log_path) if job.log_path else None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    heartbeat = Heartbeat(store, job_id, job.output_dir, log_path, stop)
    heartbeat.start()
    if job.kind != "train":
        try:
            return _run_task(store, job, stop, heartbeat)
        finally:
            heartbeat.done.set()
    folder = RunFolder(Path(job.output_dir))
    try:
        config = parse_config(job.config)
        resume = job.resume and folder.config_file.is_file()
        if resume:
            store.drop_metrics_after(job_id, folder.latest_checkpoint_step())
        print(f"job {job_id}: {'resuming' if resume else 'starting'} {config.name} on {config.base_model}", flush=True)

        from core.train import train  # imported here so a bad job row fails fast and the import is logged

        def on_log(record: dict) -> None:
            store.record_step(job_id, record)
            print(f"step {record['step']}/{record['total_steps']} loss {record['loss']:.4f} "
                  f"lr {record['lr']:.2e} {record['tokens_per_s']:.0f} tok/s", flush=True)

        result = train(config, store.workspace, resume=resume, on_log=on_log, should_stop=stop.is_set)
        heartbeat.beat()  # final move of the log into the run folder before the row is closed
        store.set_lineage(job_id, data_files=_data_lineage(result.summary.get("data_files", [])),
                          tokenizer_id=_tokenizer_identity(config.base_model, folder))
        store.add_artifacts(job_id, _artifacts(folder, result.stopped))
        if result.stopped:
            print(f"job {job_id}: cancelled at step {result.steps}; checkpoint saved", flush=True)
            store.finish(job_id, Status.cancelled, error=f"cancelled at step {result.steps}; resume continues from the checkpoint",
                         reason="cancelled")
            return Status.cancelled
        print(f"job {job_id}: done, {result.steps} steps, final loss {result.final_loss}", flush=True)
        store.finish(job_id, Status.succeeded)
        return Status.succeeded
    except Exception as error:
        return _fail(store, job_id, error, heartbeat.log_path)
    finally:
        heartbeat.done.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.worker", description="run one queued or claimed training job")
    parser.add_argument("job_id", type=int)
    parser.add_argument("--home", help="workspace folder")
    args = parser.parse_args(argv)
    import warnings

    warnings.filterwarnings("ignore", module="bitsandbytes")
    store = JobStore(resolve_home(args.home))
    try:
        status = run_job(store, args.job_id)
    except BailongError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        store.close()
    return {Status.succeeded: 0, Status.cancelled: 0}.get(status, 1)


if __name__ == "__main__":
    sys.exit(main())
