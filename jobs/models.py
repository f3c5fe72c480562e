"""The workspace database's tables as typed SQLAlchemy 2 models: jobs, their metrics and artifacts, and the
records other features keep beside them (imported corpora, side-by-side votes, Bailong-bench runs).

A job's status is a column, never inferred from files or pids. The run configuration is stored whole as
JSON (``RunConfig.model_dump(mode="json")``) so the worker, the studio form and a clone all read the same
thing. Lineage (base model, data files, tokenizer) sits in its own columns so History can filter on it.
The schema itself is owned by the Alembic revisions in ``jobs/migrations``; these classes must match head.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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


class Corpus(Base):
    """A cleaned, named corpus stored under ``<workspace>/corpora/<name>/``; usable as ``corpus:NAME``."""

    __tablename__ = "corpora"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="text")  # text | conversations
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    source_files: Mapped[list[Any]] = mapped_column(JSON, default=list)
    pipeline: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    chars: Mapped[int] = mapped_column(Integer, default=0)
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    def as_dict(self) -> dict[str, Any]:
        return {c.key: (v.isoformat() if isinstance(v := getattr(self, c.key), datetime) else v) for c in self.__table__.columns}


class Vote(Base):
    """One side-by-side judgement from Compare: later usable as preference data."""

    __tablename__ = "votes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_a: Mapped[str] = mapped_column(Text)
    model_b: Mapped[str] = mapped_column(Text)
    winner: Mapped[str] = mapped_column(String(16))  # a | b | tie | both_bad
    blind: Mapped[bool] = mapped_column(Boolean, default=True)
    conversation: Mapped[list[Any]] = mapped_column(JSON, default=list)
    answer_a: Mapped[str] = mapped_column(Text, default="")
    answer_b: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class BenchRun(Base):
    """One Bailong-bench run of one model under one judge; its items carry the cached answers and scores."""

    __tablename__ = "bench_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(Text)
    judge: Mapped[str] = mapped_column(Text)
    benchmark: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    items: Mapped[list["BenchItem"]] = relationship(back_populates="run", cascade="all, delete-orphan", passive_deletes=True)


class BenchItem(Base):
    __tablename__ = "bench_items"
    __table_args__ = (UniqueConstraint("run_id", "item_id", name="uq_bench_item_run_item"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("bench_runs.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    turns: Mapped[list[Any]] = mapped_column(JSON, default=list)
    answers: Mapped[list[Any] | None] = mapped_column(JSON)
    judge_output: Mapped[str | None] = mapped_column(Text)
    judge_score: Mapped[float | None] = mapped_column(Float)
    rule_hits: Mapped[list[Any] | None] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | answered | judged | unparsed
    expected_language: Mapped[list[Any] | None] = mapped_column(JSON)  # one per turn
    reference: Mapped[list[Any] | None] = mapped_column(JSON)
    # How often answers were generated for this item and when: a resumed run must leave finished items alone.
    generations: Mapped[int] = mapped_column(Integer, default=0)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    judge_attempts: Mapped[int] = mapped_column(Integer, default=0)
    judged_at: Mapped[datetime | None] = mapped_column(DateTime)

    run: Mapped[BenchRun] = relationship(back_populates="items")
