"""Alembic upgrades of the job store: from nothing, and from revision 0001 with rows in it."""

from __future__ import annotations

import json

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from jobs.db import HEAD, Database, alembic_config, current_revision, open_engine, upgrade
from jobs.store import JobStore


def test_head_constant_matches_the_shipped_revisions():
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def test_an_empty_database_is_created_at_head(home):
    store = JobStore(home)
    assert current_revision(store.db.engine) == HEAD
    with store.db.read() as session:
        tables = set(session.execute(text("SELECT name FROM sqlite_master WHERE type='table'")).scalars())
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert {"jobs", "metrics", "artifacts", "alembic_version"} <= tables


def test_a_revision_0001_database_upgrades_without_losing_rows(home):
    engine = open_engine(home.database, migrate=False)
    upgrade(engine, "0001")
    config = {"name": "old", "base_model": "org/old-model", "data": {"train": ["a.txt"]}}
    with engine.begin() as connection:
        for i in (1, 2):
            connection.execute(text(
                "INSERT INTO jobs (id, name, kind, status, config, created_at, step, last_loss, output_dir) "
                "VALUES (:id, :name, 'train', 'succeeded', :config, '2024-01-0' || :id || ' 10:00:00', 7, 1.5, '/x')"
            ), {"id": i, "name": f"old-{i}", "config": json.dumps(config)})
            connection.execute(text("INSERT INTO metrics (job_id, step, name, value, time) "
                                    "VALUES (:id, 1, 'loss', 2.0, '2024-01-01 10:00:00')"), {"id": i})
    engine.dispose()

    store = JobStore(home)  # opening migrates, exactly as the studio and the workers do
    jobs = sorted(store.list_jobs(), key=lambda j: j.id)
    assert [j.name for j in jobs] == ["old-1", "old-2"]
    assert [j.position for j in jobs] == [1.0, 2.0]
    assert jobs[0].base_model == "org/old-model" and jobs[0].data_files == ["a.txt"]
    assert jobs[0].last_loss == 1.5 and jobs[0].step == 7 and jobs[0].resume is False
    assert [m.value for m in store.metrics(1)] == [2.0]
    assert store.artifacts(1) == []
    assert current_revision(store.db.engine) == HEAD
    # And a second open of the now-current database is a no-op.
    Database(home.database).close()


def test_the_models_match_the_schema_the_migrations_build(home):
    """A column added to a model but not to a revision (or the reverse) would only fail on a user's database."""
    from alembic.migration import MigrationContext
    from alembic.autogenerate import compare_metadata

    from jobs.models import Base

    store = JobStore(home)
    with store.db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    store.close()
    assert diff == []
