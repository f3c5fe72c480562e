"""The first job store: jobs and their metrics.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("pid", sa.Integer),
        sa.Column("heartbeat_at", sa.DateTime),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("total_steps", sa.Integer),
        sa.Column("last_loss", sa.Float),
        sa.Column("error", sa.Text),
        sa.Column("output_dir", sa.Text),
    )
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("time", sa.DateTime, nullable=False),
        sa.UniqueConstraint("job_id", "step", "name", name="uq_metric_job_step_name"),
    )
    op.create_index("ix_metrics_job_id", "metrics", ["job_id"])


def downgrade() -> None:
    op.drop_table("metrics")
    op.drop_table("jobs")
