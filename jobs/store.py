"""The job store: every read and write of job state goes through here.

Jobs move ``queued → running → succeeded | failed | cancelled | interrupted``; each move is one guarded
UPDATE (``WHERE status = ...``) so two processes can never both claim, finish or resume the same job.
The studio, the CLI, the scheduler and the workers each open their own ``JobStore`` on the workspace
database; nothing is shared in memory, so any of them can die without taking the record with it.
"""

from __future__ import annotations

import hashlib
import random
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.config import RunConfig, config_to_dict, parse_config
from core.datafiles import absolute_data_refs
from core.errors import BailongError
from core.run_folder import RunFolder
from core.workspace import Workspace
from jobs.db import Database
from jobs.models import FINISHED, Artifact, Job, Metric, Status, utcnow

# A worker writes its heartbeat every few seconds; this much silence means it is gone.
STALE_AFTER_S = 15.0
METRIC_NAMES = ("loss", "eval_loss", "lr", "tokens_per_s", "elapsed_s")
RESUMABLE = (Status.interrupted.value, Status.cancelled.value, Status.failed.value)


class JobError(BailongError):
    reason = "job"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class JobStore:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.db = Database(workspace.database)

    def close(self) -> None:
        self.db.close()

    # ---- submitting and reading -------------------------------------------------------------------

    def submit(self, config: RunConfig, *, config_dir: Path | None = None, kind: str = "train") -> Job:
        """Queue a run; refuses at once when its output folder is taken by another run or queued job."""
        config = absolute_data_refs(config, config_dir)
        output = self.workspace.run_dir(config)
        RunFolder(output).check_can_start(config, resume=False)
        with self.db.write() as session, session.begin():
            taken = session.scalar(select(Job.id).where(Job.output_dir == str(output), Job.status.in_(
                [Status.queued.value, Status.running.value, Status.interrupted.value])))
            if taken is not None:
                raise JobError(f"job {taken} already writes to {output}; choose another name or output_dir")
            position = (session.scalar(select(func.max(Job.position))) or 0) + 1
            job = Job(
                name=config.name, kind=kind, status=Status.queued.value, config=config_to_dict(config),
                created_at=utcnow(), step=0, total_steps=config.train.max_steps, output_dir=str(output),
                position=position, resume=False, base_model=config.base_model, data_files=list(config.data.train),
            )
            session.add(job)
        return job

    def submit_task(self, kind: str, name: str, payload: dict[str, Any], *, output_dir: Path | None = None,
                    total_steps: int | None = None) -> Job:
        """Queue a job that is not a training run (see ``jobs.tasks``); ``payload`` is its whole input."""
        from jobs.tasks import TASKS

        if kind not in TASKS:
            raise JobError(f"unknown job kind {kind!r}; known: {', '.join(sorted(TASKS))}")
        with self.db.write() as session, session.begin():
            position = (session.scalar(select(func.max(Job.position))) or 0) + 1
            job = Job(
                name=name, kind=kind, status=Status.queued.value, config=dict(payload), created_at=utcnow(), step=0,
                total_steps=total_steps, output_dir=str(output_dir) if output_dir else None, position=position, resume=False,
            )
            session.add(job)
        return job

    def get(self, job_id: int) -> Job:
        with self.db.read() as session:
            job = session.get(Job, job_id)
        if job is None:
            raise JobError(f"no job {job_id} in {self.workspace.database}")
        return job

    def config_of(self, job_id: int) -> RunConfig:
        return parse_config(self.get(job_id).config)

    def list_jobs(
        self, *, statuses: Iterable[str] | None = None, text: str | None = None, base_model: str | None = None,
        since: datetime | None = None, until: datetime | None = None, limit: int | None = None,
    ) -> list[Job]:
        """Newest first, filtered as History asks; the queue order is ``queue()``."""
        query = select(Job).order_by(Job.id.desc())
        if statuses:
            query = query.where(Job.status.in_(list(statuses)))
        if text:
            like = f"%{text}%"
            query = query.where(or_(Job.name.ilike(like), Job.base_model.ilike(like), Job.error.ilike(like),
                                    Job.output_dir.ilike(like)))
        if base_model:
            query = query.where(Job.base_model == base_model)
        if since:
            query = query.where(Job.created_at >= since)
        if until:
            query = query.where(Job.created_at < until)
        if limit:
            query = query.limit(limit)
        with self.db.read() as session:
            return list(session.scalars(query))

    def queue(self) -> list[Job]:
        with self.db.read() as session:
            return list(session.scalars(select(Job).where(Job.status == Status.queued.value).order_by(Job.position, Job.id)))

    def running(self) -> list[Job]:
        with self.db.read() as session:
            return list(session.scalars(select(Job).where(Job.status == Status.running.value)))

    def base_models(self) -> list[str]:
        with self.db.read() as session:
            return sorted(m for m in session.scalars(select(Job.base_model).distinct()) if m)

    def metrics(self, job_id: int, names: Iterable[str] | None = None) -> list[Metric]:
        query = select(Metric).where(Metric.job_id == job_id).order_by(Metric.step, Metric.name)
        if names:
            query = query.where(Metric.name.in_(list(names)))
        with self.db.read() as session:
            return list(session.scalars(query))

    def artifacts(self, job_id: int) -> list[Artifact]:
        with self.db.read() as session:
            return list(session.scalars(select(Artifact).where(Artifact.job_id == job_id).order_by(Artifact.kind, Artifact.path)))

    # ---- the scheduler's and the worker's moves ---------------------------------------------------

    def _move(self, job_id: int, from_statuses: Iterable[str], **values: Any) -> bool:
        """Change a job only if it is still in one of ``from_statuses``; True if this call changed it."""
        with self.db.write() as session, session.begin():
            result = session.execute(
                update(Job).where(Job.id == job_id, Job.status.in_(list(from_statuses))).values(**values)
            )
            return result.rowcount == 1

    def claim(self, job_id: int) -> bool:
        now = utcnow()
        return self._move(job_id, [Status.queued.value], status=Status.running.value, started_at=now,
                          heartbeat_at=now, finished_at=None, error=None, error_reason=None, pid=None,
                          cancel_requested_at=None)

    def set_pid(self, job_id: int, pid: int, log_path: Path | None = None) -> None:
        values: dict[str, Any] = {"pid": pid, "heartbeat_at": utcnow()}
        if log_path is not None:
            values["log_path"] = str(log_path)
        self._move(job_id, [Status.running.value], **values)

    def set_log_path(self, job_id: int, log_path: Path) -> None:
        with self.db.write() as session, session.begin():
            session.execute(update(Job).where(Job.id == job_id).values(log_path=str(log_path)))

    def heartbeat(self, job_id: int) -> bool:
        """Refresh the heartbeat; returns whether a cancel has been asked for."""
        with self.db.write() as session, session.begin():
            session.execute(update(Job).where(Job.id == job_id, Job.status == Status.running.value).values(heartbeat_at=utcnow()))
            return session.scalar(select(Job.cancel_requested_at).where(Job.id == job_id)) is not None

    def record_step(self, job_id: int, record: dict[str, Any]) -> None:
        """One logged training step: its metrics (once per step, a re-run step replaces) and the job's progress."""
        now = utcnow()
        step = int(record["step"])
        rows = [{"job_id": job_id, "step": step, "name": n, "value": float(record[n]), "time": now}
                for n in METRIC_NAMES if record.get(n) is not None]
        with self.db.write() as session, session.begin():
            if rows:
                statement = sqlite_insert(Metric).values(rows)
                statement = statement.on_conflict_do_update(
                    index_elements=["job_id", "step", "name"],
                    set_={"value": statement.excluded.value, "time": statement.excluded.time},
                )
                session.execute(statement)
            session.execute(update(Job).where(Job.id == job_id).values(
                step=step, total_steps=record.get("total_steps"), last_loss=record.get("loss"),
                tokens_per_s=record.get("tokens_per_s"), elapsed_s=record.get("elapsed_s"), heartbeat_at=now,
            ))

    def record_progress(self, job_id: int, done: int, total: int | None = None) -> None:
        values: dict[str, Any] = {"step": done, "heartbeat_at": utcnow()}
        if total is not None:
            values["total_steps"] = total
        with self.db.write() as session, session.begin():
            session.execute(update(Job).where(Job.id == job_id).values(**values))

    def drop_metrics_after(self, job_id: int, step: int) -> None:
        """A resumed run repeats the steps after its checkpoint; their old values must not linger."""
        with self.db.write() as session, session.begin():
            session.execute(delete(Metric).where(Metric.job_id == job_id, Metric.step > step))
            session.execute(update(Job).where(Job.id == job_id).values(step=step))

    def set_lineage(self, job_id: int, *, data_files: list[str] | None = None, tokenizer_id: str | None = None) -> None:
        values: dict[str, Any] = {}
        if data_files is not None:
            values["data_files"] = data_files
        if tokenizer_id is not None:
            values["tokenizer_id"] = tokenizer_id
        if values:
            with self.db.write() as session, session.begin():
                session.execute(update(Job).where(Job.id == job_id).values(**values))

    def add_artifacts(self, job_id: int, files: Iterable[tuple[str, Path]]) -> None:
        rows = [Artifact(job_id=job_id, kind=kind, path=str(path), bytes=path.stat().st_size, sha256=file_sha256(path))
                for kind, path in files if path.is_file()]
        with self.db.write() as session, session.begin():
            session.execute(delete(Artifact).where(Artifact.job_id == job_id))
            session.add_all(rows)

    def finish(self, job_id: int, status: Status, *, error: str | None = None, reason: str | None = None) -> bool:
        return self._move(job_id, [Status.running.value], status=status.value, finished_at=utcnow(),
                          error=error, error_reason=reason, pid=None)

    def find_stale(self, now: datetime | None = None) -> list[Job]:
        cutoff = (now or utcnow()) - timedelta(seconds=STALE_AFTER_S)
        with self.db.read() as session:
            return list(session.scalars(select(Job).where(
                Job.status == Status.running.value, or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < cutoff))))

    def mark_interrupted(self, job_id: int, error: str) -> bool:
        return self._move(job_id, [Status.running.value], status=Status.interrupted.value, finished_at=utcnow(),
                          error=error, error_reason="interrupted", pid=None)

    # ---- the user's moves -------------------------------------------------------------------------

    def request_cancel(self, job_id: int) -> Status:
        """A queued job is cancelled at once; a running one is asked to stop (its worker checkpoints and exits)."""
        job = self.get(job_id)
        if self._move(job_id, [Status.queued.value], status=Status.cancelled.value, finished_at=utcnow()):
            return Status.cancelled
        if job.status == Status.running.value:
            with self.db.write() as session, session.begin():
                session.execute(update(Job).where(Job.id == job_id, Job.cancel_requested_at.is_(None))
                                .values(cancel_requested_at=utcnow()))
            return Status.running
        raise JobError(f"job {job_id} is {job.status}; only queued or running jobs can be cancelled")

    def resume(self, job_id: int) -> None:
        """Requeue a stopped job at the back of the queue; its worker continues from the last checkpoint."""
        job = self.get(job_id)
        with self.db.write() as session, session.begin():
            position = (session.scalar(select(func.max(Job.position))) or 0) + 1
            changed = session.execute(update(Job).where(Job.id == job_id, Job.status.in_(RESUMABLE)).values(
                status=Status.queued.value, resume=True, position=position, error=None, error_reason=None,
                finished_at=None, cancel_requested_at=None, pid=None,
            )).rowcount
        if not changed:
            raise JobError(f"job {job_id} is {job.status}; only interrupted, cancelled or failed jobs can be resumed")

    def move(self, job_id: int, offset: int) -> None:
        """Swap a queued job with its neighbour ``offset`` places earlier (-1) or later (+1) in the queue."""
        with self.db.write() as session, session.begin():
            queue = list(session.scalars(select(Job).where(Job.status == Status.queued.value).order_by(Job.position, Job.id)))
            index = next((i for i, j in enumerate(queue) if j.id == job_id), None)
            if index is None:
                raise JobError(f"job {job_id} is not queued")
            other = index + offset
            if 0 <= other < len(queue):
                queue[index].position, queue[other].position = queue[other].position, queue[index].position

    def delete(self, job_id: int, *, remove_files: bool = True) -> None:
        """Forget a job that is not running; its run folder goes too when it lies inside the workspace."""
        job = self.get(job_id)
        if job.status == Status.running.value:
            raise JobError(f"job {job_id} is running; cancel it first")
        with self.db.write() as session, session.begin():
            session.execute(delete(Metric).where(Metric.job_id == job_id))
            session.execute(delete(Artifact).where(Artifact.job_id == job_id))
            session.execute(delete(Job).where(Job.id == job_id))
        output = Path(job.output_dir) if job.output_dir else None
        if remove_files and output is not None and output.is_relative_to(self.workspace.runs) and output != self.workspace.runs:
            shutil.rmtree(output, ignore_errors=True)


def seed_history(store: JobStore, n: int, *, seed: int = 0, metrics_per_job: int = 20) -> list[int]:
    """Insert ``n`` finished jobs with metrics, as a benchmark's history: real rows through the real models."""
    rng = random.Random(seed)
    base_models = ["default", "org/llama-3-8b", "org/qwen-7b"]
    finished_statuses = [s.value for s in FINISHED]
    ids = []
    with store.db.write() as session, session.begin():
        start = (session.scalar(select(func.max(Job.position))) or 0) + 1
        now = utcnow()
        for i in range(n):
            config = RunConfig(name=f"seeded-{seed}-{i}", base_model=rng.choice(base_models))
            created = now - timedelta(minutes=10 * (n - i))
            status = rng.choices(finished_statuses, weights=[8, 1, 1, 1])[0]
            steps = config.train.max_steps or 100
            job = Job(
                name=config.name, kind="train", status=status, config=config_to_dict(config), created_at=created,
                started_at=created + timedelta(seconds=5), finished_at=created + timedelta(minutes=8), step=steps,
                total_steps=steps, last_loss=round(rng.uniform(1.5, 3.0), 4), tokens_per_s=round(rng.uniform(500, 2000), 1),
                elapsed_s=480.0, output_dir=str(store.workspace.run_dir(config)), position=start + i, resume=False,
                base_model=config.base_model, data_files=list(config.data.train),
                error="out of memory on cuda: lower train.batch_size" if status == Status.failed.value else None,
                error_reason="out of memory" if status == Status.failed.value else None,
            )
            session.add(job)
            session.flush()
            ids.append(job.id)
            loss = 3.5
            session.add_all(
                Metric(job_id=job.id, step=s, name="loss", value=(loss := loss * 0.98), time=created)
                for s in range(1, metrics_per_job + 1)
            )
    return ids


def open_store(home: str | Path | None = None) -> JobStore:
    from core.workspace import resolve_home

    return JobStore(resolve_home(home))

