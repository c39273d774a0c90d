"""Shared fixtures: the Prefect server of the test process, real databases (SQLite, and PostgreSQL where it runs),
generated candles, and tiny trained models.

Plain helpers live in ``tests/support/`` (candles, the tiny configuration, the console command, row counts);
the tiny configuration is ``tests.support.tiny.TINY_JOB``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

for _name in [name for name in os.environ if name.startswith("FORECASTER_") and name != "FORECASTER_TEST_POSTGRES_URL"]:
    del os.environ[_name]  # tests never read the developer's own database or exchange settings
# Nor the developer's Prefect: no PREFECT_API_URL or profile of theirs reaches a flow or a console command run by a
# test, and each test process (each pytest-xdist worker) has a Prefect home of its own, for the ephemeral server's
# database of the commands it runs, result storage and the block memo; its session server is ``prefect_server``.
for _name in [name for name in os.environ if name.startswith("PREFECT_")]:
    del os.environ[_name]
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="forecaster-tests-prefect-")
atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
# A console command that runs a flow starts Prefect's ephemeral server; with a test process on each core the 20 s
# Prefect allows it by default can run out (the session server gets 120 s too, ``prefect_server``).
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
os.environ["FORECASTER_TASK_RETRY_DELAY_S"] = "0.2"  # Prefect step retries: seconds, not minutes, in tests
# Flows run without the per-exchange concurrency limit (one less round trip to the server per ingest), but in the
# one test that checks it (tests/flows/test_daily.py).
os.environ["FORECASTER_EXCHANGE_CONCURRENCY"] = "0"

from forecaster.db.engine import make_engine, session_factory  # noqa: E402
from forecaster.db.migrate import upgrade  # noqa: E402
from forecaster.db.models import ModelVersion  # noqa: E402
from forecaster.model import TrainedModel  # noqa: E402
from forecaster.model.train import seed_everything, train  # noqa: E402
from forecaster.pipeline.train import train_step  # noqa: E402
from forecaster.runtime import set_torch_threads  # noqa: E402
from forecaster.series import SeriesKey  # noqa: E402
from tests.support.candles import calendar_candles, random_walk, store_candles, window  # noqa: E402
from tests.support.postgres import (  # noqa: E402
    DIALECTS,
    PG_ADMIN_URL,
    created_database,
    postgres_reason,
    scratch_database,
    truncate_all,
)
from tests.support.replay import Filled, fill  # noqa: E402
from tests.support.tiny import TINY_JOB, TINY_MODEL, TINY_TRAIN  # noqa: E402

set_torch_threads(1)  # the test process's entry point, as the command and the flows set it (FORECASTER_TORCH_THREADS)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Without pytest-xdist (``-p no:xdist``, or not installed) the ``-n`` and ``--dist`` of ``addopts`` still
    parse, and mean nothing: the tests run in this one process."""
    if pluginmanager.has_plugin("xdist"):
        return
    group = parser.getgroup("xdist", "pytest-xdist is not loaded: the tests run in this process")
    group._addoption("-n", "--numprocesses", dest="numprocesses", help="ignored without pytest-xdist")
    group.addoption("--dist", dest="dist", default="no", help="ignored without pytest-xdist")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A flow run on PostgreSQL is ``slow``: the same test on SQLite keeps the flows in the fast subset.

    Every other ``slow`` mark is written on its test (``pytest -m "not slow"`` is the fast subset).
    """
    for item in items:
        if "prefect_server" in getattr(item, "fixturenames", ()) and item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """The Prefect server of this test process (a temporary local one, on a free port with a database of its own:
    each pytest-xdist worker has one), for every test that runs a flow.

    Started by the first test that asks for it, stopped at the end of the run.
    """
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# -- candles --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def btc() -> pd.DataFrame:
    """BTC/USDT on the calendar of the real files, 2017-08-17..2026-03-30 less their 6 missing days (generated)."""
    return calendar_candles("BTC/USDT")


@pytest.fixture(scope="session")
def eth() -> pd.DataFrame:
    """ETH/USDT on the same calendar (generated)."""
    return calendar_candles("ETH/USDT")


@pytest.fixture(scope="session")
def candles() -> pd.DataFrame:
    """300 plain daily candles of a random walk, for the model's unit tests."""
    return random_walk(300, seed=1)


@pytest.fixture(scope="session")
def as_of(candles: pd.DataFrame) -> pd.Timestamp:
    return candles["ts"].iloc[249]


# -- trained models -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_model(candles: pd.DataFrame, as_of: pd.Timestamp) -> TrainedModel:
    """A tiny model trained on ``candles`` up to ``as_of`` (seeded: the same model in every run)."""
    seed_everything(7)
    return train(candles, as_of, TINY_MODEL, TINY_TRAIN)


@pytest.fixture
def registered(sessions: sessionmaker[Session], btc: pd.DataFrame, tmp_path: Path) -> ModelVersion:
    """A registered tiny model of binance BTC/USDT 1d as of 2024-06-30, its checkpoint under ``tmp_path``."""
    key = SeriesKey("binance", "BTC/USDT", "1d")
    history = window(btc)
    store_candles(sessions, key, history)
    as_of = history["ts"].iloc[-1].to_pydatetime()
    outcome = train_step(sessions, key, as_of, "full", TINY_JOB, tmp_path / "checkpoints")
    with sessions() as session:
        return session.get_one(ModelVersion, outcome.version_id)


@pytest.fixture(scope="session", params=DIALECTS)
def filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, btc: pd.DataFrame
) -> Iterator[Filled]:
    """A database of each backend holding twelve days of the job's scored forecasts (filled once: it trains).

    A database of its own, never the shared ``database_url``: tests only read it.
    """
    folder = tmp_path_factory.mktemp(f"filled-{request.param}")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{folder / 'forecaster.db'}"
        else:
            reason = postgres_reason()
            if reason:
                pytest.skip(reason)
            admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            url = stack.enter_context(created_database(admin, prefix="forecaster_filled"))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        upgrade(engine)
        yield fill(url, session_factory(engine), btc, folder / "checkpoints")


# -- databases ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (each pytest-xdist worker's own), migrated to the newest
    schema."""
    reason = postgres_reason()
    if reason:
        pytest.skip(reason)
    with created_database(make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")) as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=DIALECTS)
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
    truncate_all(url)


@pytest.fixture(params=DIALECTS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (no schema, for tests that start below the newest one)."""
    with scratch_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)
