"""Imported corpora, Compare votes and Bailong-bench runs with their per-item answers and judgements.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "corpora",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source_files", sa.JSON, nullable=False),
        sa.Column("pipeline", sa.JSON, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("chars", sa.Integer, nullable=False),
        sa.Column("stats", sa.JSON),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "votes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_a", sa.Text, nullable=False),
        sa.Column("model_b", sa.Text, nullable=False),
        sa.Column("winner", sa.String(16), nullable=False),
        sa.Column("blind", sa.Boolean, nullable=False),
        sa.Column("conversation", sa.JSON, nullable=False),
        sa.Column("answer_a", sa.Text, nullable=False),
        sa.Column("answer_b", sa.Text, nullable=False),
        sa.Column("settings", sa.JSON),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "bench_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("judge", sa.Text, nullable=False),
        sa.Column("benchmark", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("settings", sa.JSON),
        sa.Column("summary", sa.JSON),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
    )
    op.create_table(
        "bench_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("bench_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("turns", sa.JSON, nullable=False),
        sa.Column("answers", sa.JSON),
        sa.Column("judge_output", sa.Text),
        sa.Column("judge_score", sa.Float),
        sa.Column("rule_hits", sa.JSON),
        sa.Column("score", sa.Float),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expected_language", sa.JSON),
        sa.Column("reference", sa.JSON),
        sa.Column("generations", sa.Integer, nullable=False, server_default="0"),
        sa.Column("answered_at", sa.DateTime),
        sa.Column("judge_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("judged_at", sa.DateTime),
        sa.UniqueConstraint("run_id", "item_id", name="uq_bench_item_run_item"),
    )
    op.create_index("ix_bench_items_run_id", "bench_items", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_bench_items_run_id", "bench_items")
    for table in ("bench_items", "bench_runs", "votes", "corpora"):
        op.drop_table(table)
