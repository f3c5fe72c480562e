"""Opening the workspace database: SQLite in WAL mode with a busy timeout, migrated to head on open.

Writers take the write lock up front (``BEGIN IMMEDIATE``): a deferred transaction that reads and then
writes can fail at once with SQLITE_BUSY when another process wrote in between, and the busy timeout
does not help it. Readers stay deferred so the studio's refreshes never queue behind a worker. Migrations
ship inside the package and run in code, so a studio or worker opening an older database upgrades it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest revision; checked against the scripts by a test, so opening an up-to-date database can skip
# loading Alembic entirely (it costs a noticeable share of the studio's cold start).
HEAD = "0003"
BUSY_TIMEOUT_MS = 30_000


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself instead of pysqlite's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        immediate = connection.get_execution_options().get("immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def alembic_config(connection=None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        has_table = connection.execute(
            text("SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'")
        ).first()
        if not has_table:
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision``; the immediate transaction makes concurrent openers wait their turn."""
    from alembic import command

    with engine.execution_options(immediate=True).connect() as connection:
        # SQLite rebuilds a table to alter it; with foreign keys on, dropping the old ``jobs`` would cascade
        # and delete every metric. The pragma only takes effect outside a transaction, hence the raw call.
        raw = connection.connection.driver_connection
        raw.execute("PRAGMA foreign_keys = OFF")
        try:
            with connection.begin():
                command.upgrade(alembic_config(connection), revision)
        finally:
            raw.execute("PRAGMA foreign_keys = ON")


def open_engine(database: Path, *, migrate: bool = True) -> Engine:
    database.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{database}", connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})
    _configure_sqlite(engine)
    if migrate and current_revision(engine) != HEAD:
        upgrade(engine)
    return engine


class Database:
    """One engine and its two session factories: deferred for reading, immediate for writing."""

    def __init__(self, database: Path, *, migrate: bool = True) -> None:
        self.path = database
        self.engine = open_engine(database, migrate=migrate)
        self.reading = sessionmaker(self.engine, expire_on_commit=False)
        self.writing = sessionmaker(self.engine.execution_options(immediate=True), expire_on_commit=False)

    def read(self) -> Session:
        return self.reading()

    def write(self) -> Session:
        """A session whose transaction holds the write lock from its first statement; use ``with ... .begin()``."""
        return self.writing()

    def close(self) -> None:
        self.engine.dispose()
