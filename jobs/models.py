"""The job store's tables as typed SQLAlchemy 2 models: jobs, their metrics and their artifacts.

A job's status is a column, never inferred from files or pids. The run configuration is stored whole as
JSON (``RunConfig.model_dump(mode="json")``) so the worker, the studio form and a clone all read the same
thing. Lineage (base model, data files, tokenizer) sits in its own columns so History can filter on it.
The schema itself is owned by the Alembic revisions in ``jobs/migrations``; these classes must match head.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Status(str, enum.Enum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"


FINISHED = (Status.succeeded, Status.failed, Status.cancelled, Status.interrupted)


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32), default="train")
    status: Mapped[str] = mapped_column(String(16), default=Status.queued.value, index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    pid: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    step: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int | None] = mapped_column(Integer)
    last_loss: Mapped[float | None] = mapped_column(Float)
    tokens_per_s: Mapped[float | None] = mapped_column(Float)
    elapsed_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    error_reason: Mapped[str | None] = mapped_column(String(32))
    output_dir: Mapped[str | None] = mapped_column(Text)
    log_path: Mapped[str | None] = mapped_column(Text)
    # Queue order: lower runs first; reordering swaps positions instead of renumbering the queue.
    position: Mapped[float] = mapped_column(Float, default=0.0)
    resume: Mapped[bool] = mapped_column(default=False)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    base_model: Mapped[str | None] = mapped_column(Text)
    data_files: Mapped[list[Any] | None] = mapped_column(JSON)
    tokenizer_id: Mapped[str | None] = mapped_column(Text)

    metrics: Mapped[list["Metric"]] = relationship(back_populates="job", cascade="all, delete-orphan", passive_deletes=True)
    artifacts: Mapped[list["Artifact"]] = relationship(back_populates="job", cascade="all, delete-orphan", passive_deletes=True)

    def as_dict(self) -> dict[str, Any]:
        """The row as plain JSON-ready data: what ``bailong jobs show --json`` prints."""
        out: dict[str, Any] = {}
        for column in self.__table__.columns:
            value = getattr(self, column.key)
            out[column.key] = value.isoformat() if isinstance(value, datetime) else value
        return out


class Metric(Base):
    __tablename__ = "metrics"
    __table_args__ = (UniqueConstraint("job_id", "step", "name", name="uq_metric_job_step_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    time: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    job: Mapped[Job] = relationship(back_populates="metrics")


class Artifact(Base):
    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(Text)
    bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))

    job: Mapped[Job] = relationship(back_populates="artifacts")


Index("ix_jobs_position", Job.status, Job.position)
