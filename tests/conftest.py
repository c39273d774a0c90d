"""Shared fixtures: real databases (SQLite, and PostgreSQL where it runs), real candles, the loopback
exchange, and tiny training settings."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
for _name in [name for name in os.environ if name.startswith("FORECASTER_")]:
    del os.environ[_name]  # tests never read the developer's own database or exchange settings
os.environ["FORECASTER_TASK_RETRY_DELAY_S"] = "0.2"  # Prefect step retries: seconds, not minutes, in tests
# Prefect keeps one slot-lease service per limit name and process, bound to the first server it met; test modules
# with servers of their own would wait on a stopped one. Tests run without the exchange limit, but the one
# test that checks it (tests/flows/test_daily.py) under the session's server.
os.environ["FORECASTER_EXCHANGE_CONCURRENCY"] = "0"

from forecaster.db.engine import make_engine, session_factory  # noqa: E402
from forecaster.db.migrate import upgrade  # noqa: E402
from forecaster.ingest.clean import CleanCandles  # noqa: E402
from forecaster.ingest.service import save_batch  # noqa: E402
from forecaster.runtime import set_torch_threads  # noqa: E402
from forecaster.series import SeriesKey  # noqa: E402

set_torch_threads(1)  # the test process's entry point, as the command and the flows set it (FORECASTER_TORCH_THREADS)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PG_ADMIN_URL = os.environ.get("FORECASTER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def read_shared_candles(name: str) -> pd.DataFrame:
    """A real candle file of ``../shared/data`` as a candle frame (``ts`` aware UTC)."""
    path = DATA / f"{name}.csv"
    if not path.exists():
        pytest.skip(f"real candles not found at {path}")
    frame = pd.read_csv(path)
    frame["ts"] = pd.to_datetime(frame.pop("timestamp"), utc=True)
    return frame[["ts", "open", "high", "low", "close", "volume"]]


def store_candles(sessions: sessionmaker[Session], key: SeriesKey, frame: pd.DataFrame) -> None:
    """Write clean candles straight into the database, as an ingest would."""
    now = pd.Timestamp.now(tz="UTC").to_pydatetime()
    clean = CleanCandles(frame.reset_index(drop=True))
    save_batch(sessions, key, clean, fetched=len(frame), source="csv", requested_since=None, started=now)


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One real Prefect server (a temporary local one) for every test that runs a flow."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def btc() -> pd.DataFrame:
    return read_shared_candles("BTCUSDT")


@pytest.fixture(scope="session")
def eth() -> pd.DataFrame:
    return read_shared_candles("ETHUSDT")


def _postgres_reason() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means: no server to test against
        return f"PostgreSQL is not running at {PG_ADMIN_URL} ({type(exc).__name__}); PostgreSQL tests skipped"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to the newest schema."""
    reason = _postgres_reason()
    if reason:
        pytest.skip(reason)
    name = f"forecaster_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, then the session's PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'forecaster.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    engine = make_engine(url)
    with engine.begin() as conn:
        tables = [row[0] for row in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))]
        tables = [name for name in tables if name != "alembic_version"]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{name}"' for name in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)
