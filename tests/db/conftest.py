"""Scratch databases of their own (any revision), and the small populated database of ``populate.py``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from forecaster.db.engine import make_engine, session_factory
from forecaster.db.migrate import upgrade
from tests.conftest import PG_ADMIN_URL, _postgres_reason
from tests.db.populate import Populated, candles_of, populate

DIALECTS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def scratch_database(dialect: str, folder: Path) -> Iterator[str]:
    """An empty database of its own (no schema): a SQLite file in ``folder``, or a new PostgreSQL
    database dropped afterwards."""
    if dialect == "sqlite":
        yield f"sqlite:///{folder / f'scratch-{uuid.uuid4().hex[:8]}.db'}"
        return
    reason = _postgres_reason()
    if reason:
        pytest.skip(reason)
    name = f"forecaster_scratch_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module", params=DIALECTS)
def populated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, btc: pd.DataFrame, eth: pd.DataFrame
) -> Iterator[Populated]:
    """The populated database of ``populate.py``, one per dialect and test module (read-only for tests)."""
    folder = tmp_path_factory.mktemp(f"populated-{request.param}")
    with scratch_database(request.param, folder) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            yield populate(url, session_factory(engine), candles_of(btc, eth))
        finally:
            engine.dispose()
