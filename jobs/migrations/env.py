"""Alembic environment for the job store: always run in code by ``jobs.db`` on an open connection."""

from alembic import context

from jobs.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
