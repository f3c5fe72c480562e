"""Queue order, cancel requests, failure reasons, lineage columns and the artifacts table.

Existing rows keep their place in the queue (position = id) and get their base model from the stored
config, so a database from revision 0001 upgrades without losing or orphaning anything.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("error_reason", sa.String(32)))
        batch.add_column(sa.Column("tokens_per_s", sa.Float))
        batch.add_column(sa.Column("elapsed_s", sa.Float))
        batch.add_column(sa.Column("log_path", sa.Text))
        batch.add_column(sa.Column("position", sa.Float, nullable=False, server_default="0"))
        batch.add_column(sa.Column("resume", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("cancel_requested_at", sa.DateTime))
        batch.add_column(sa.Column("base_model", sa.Text))
        batch.add_column(sa.Column("data_files", sa.JSON))
        batch.add_column(sa.Column("tokenizer_id", sa.Text))
    op.execute("UPDATE jobs SET position = id, base_model = json_extract(config, '$.base_model'), "
               "data_files = json_extract(config, '$.data.train')")
    op.create_index("ix_jobs_position", "jobs", ["status", "position"])
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_artifacts_job_id", "artifacts", ["job_id"])


def downgrade() -> None:
    op.drop_table("artifacts")
    op.drop_index("ix_jobs_position", "jobs")
    with op.batch_alter_table("jobs") as batch:
        for name in ("error_reason", "tokens_per_s", "elapsed_s", "log_path", "position", "resume",
                     "cancel_requested_at", "base_model", "data_files", "tokenizer_id"):
            batch.drop_column(name)
