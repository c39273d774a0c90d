"""Schema migrations through Alembic: ``forecaster db upgrade`` and the check every command makes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from forecaster.db.locks import lock_key
from forecaster.errors import SchemaOutdated

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Bring the database to ``revision``; returns (revision before, revision after).

    One migration at a time, however many processes and threads ask together (every task of a
    first run creates the empty database's schema): each first takes the database's write lock
    (SQLite's ``BEGIN IMMEDIATE``, a transaction-scoped advisory lock on PostgreSQL) and migrates in
    that one transaction, so those that waited read the new revision and find nothing left to do.
    """
    return _migrate(engine, lambda cfg: command.upgrade(cfg, revision))


def downgrade(engine: Engine, revision: str) -> tuple[str | None, str]:
    """Take the database back to ``revision`` (under the same lock as ``upgrade``)."""
    return _migrate(engine, lambda cfg: command.downgrade(cfg, revision))


def _migrate(engine: Engine, step: Callable[[Config], None]) -> tuple[str | None, str]:
    """Run ``step`` on one connection holding the database's write lock, in one transaction.

    On SQLite, foreign keys are off while it runs (a migration that rebuilds a referenced table must
    not cascade its drop to the referencing rows; SQLite ignores the pragma inside a transaction, so
    it is set before) and on again afterwards; each migration checks them itself before it ends.
    """
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()  # ends SQLAlchemy's autobegun transaction; SQLite itself opened none
        try:
            with conn.begin():
                if sqlite:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                elif conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key("forecaster schema")})
                before = MigrationContext.configure(conn).get_current_revision()
                cfg = _config()
                cfg.attributes["connection"] = conn
                step(cfg)
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
    return before, current_revision(engine) or ""


def ensure_schema(engine: Engine) -> None:
    """Create the schema in an empty database; refuse a database at an older schema.

    An empty database (the embedded SQLite default on a first run) is created at once. One that
    holds an older schema is never migrated behind the user's back: the error points to
    ``forecaster db upgrade``.
    """
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None and not inspect(engine).get_table_names():
        upgrade(engine)
        return
    raise SchemaOutdated(
        f"the database schema is at revision {current or 'none (tables without Alembic history)'}, "
        f"this forecaster needs {head}: run `forecaster db upgrade`"
    )
