"""Two daily runs of the same series at once (a manual run while the schedule fires) leave one run's rows."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from flows.daily import daily
from forecaster.db.engine import make_engine, session_factory
from forecaster.db.migrate import upgrade
from forecaster.db.models import IngestRun, ModelVersion, Run
from forecaster.exchange.loopback import LoopbackExchange
from tests.support.candles import half_year_exchange
from tests.support.rows import assert_same_rows, series_rows
from tests.support.tiny import params

SYMBOLS = ("BTC/USDT", "ETH/USDT")


@pytest.fixture(scope="module")
def loopback(btc: pd.DataFrame, eth: pd.DataFrame) -> Iterator[LoopbackExchange]:
    with half_year_exchange({"BTC/USDT": btc, "ETH/USDT": eth}) as server:
        yield server


def run_daily(url: str, data_dir: Path, api_url: str, runs: int) -> list[Any]:
    """``runs`` daily runs of both symbols, started together from as many threads; their final states."""
    start = threading.Barrier(runs)
    states: list[Any] = [None] * runs

    def one(index: int) -> None:
        start.wait()
        states[index] = daily(**params(*SYMBOLS), api_url=api_url, return_state=True)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FORECASTER_DATABASE_URL", url)
        patch.setenv("FORECASTER_DATA_DIR", str(data_dir))
        threads = [threading.Thread(target=one, args=(index,)) for index in range(runs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
    return states


@pytest.fixture(scope="module")
def single_run_rows(prefect_server: None, loopback: LoopbackExchange) -> dict[str, pd.DataFrame]:
    with tempfile.TemporaryDirectory(prefix="forecaster-single-") as folder:
        url = f"sqlite:///{folder}/single.db"
        upgrade(make_engine(url))
        (state,) = run_daily(url, Path(folder) / "data", loopback.url, runs=1)
        assert state.is_completed(), state.message
        return series_rows(url)


def test_two_daily_runs_started_together_leave_the_rows_of_one(database_url, single_run_rows, loopback, tmp_path):
    states = run_daily(database_url, tmp_path / "data", loopback.url, runs=2)
    assert all(state.is_completed() for state in states), [state.message for state in states]
    assert_same_rows(series_rows(database_url), single_run_rows)

    engine = make_engine(database_url)
    with session_factory(engine)() as session:
        runs = session.scalars(select(Run.status)).all()
        ingests = session.scalars(select(IngestRun.status)).all()
        checkpoints = set(session.scalars(select(ModelVersion.checkpoint_path)))
    engine.dispose()
    assert runs == ["completed", "completed"]  # each run's own record
    assert len(ingests) == 2 * len(SYMBOLS) and set(ingests) == {"ok"}
    cache = tmp_path / "data" / "checkpoints"
    assert {path.relative_to(cache).as_posix() for path in cache.rglob("*.ckpt")} == checkpoints  # no loser's file
