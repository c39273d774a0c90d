"""The PostgreSQL server the tests use where it runs (``FORECASTER_TEST_POSTGRES_URL``), and throwaway databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from forecaster.db.engine import make_engine

PG_ADMIN_URL = os.environ.get("FORECASTER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Both backends, as a parametrisation: PostgreSQL's cases carry the ``postgres`` mark.
DIALECTS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def postgres_reason() -> str | None:
    """Why the PostgreSQL tests cannot run here; ``None`` where the server answers."""
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means: no server to test against
        return f"PostgreSQL is not running at {PG_ADMIN_URL} ({type(exc).__name__}); PostgreSQL tests skipped"
    return None


@contextmanager
def created_database(admin: Engine, prefix: str = "forecaster_test") -> Iterator[str]:
    """A new, empty database on ``admin``'s server for the block, dropped after it (connections included)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def truncate_all(url: str) -> None:
    """Empty every table of the database at ``url`` but the migration record."""
    engine = make_engine(url)
    with engine.begin() as conn:
        tables = [row[0] for row in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))]
        tables = [name for name in tables if name != "alembic_version"]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{name}"' for name in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@contextmanager
def scratch_database(dialect: str, folder: Path) -> Iterator[str]:
    """An empty database of its own (no schema): a SQLite file in ``folder``, or a new PostgreSQL database
    dropped afterwards (skipped where PostgreSQL is not running)."""
    if dialect == "sqlite":
        yield f"sqlite:///{folder / f'scratch-{uuid.uuid4().hex[:8]}.db'}"
        return
    reason = postgres_reason()
    if reason:
        pytest.skip(reason)
    with created_database(make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT"), prefix="forecaster_scratch") as url:
        yield url
