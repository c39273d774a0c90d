"""Two runs of the same series at once (a manual run while the schedule fires) leave one run's rows.

The mechanism (``forecaster.db.locks``): unique keys make every write idempotent, and on
PostgreSQL a per-series advisory lock makes a second trainer wait and reuse the first one's model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import select

from flows.daily import daily
from forecaster.db.engine import make_engine, session_factory
from forecaster.db.locks import advisory_lock
from forecaster.db.migrate import upgrade
from forecaster.db.models import IngestRun, ModelVersion, Run
from forecaster.exchange.loopback import LoopbackExchange
from forecaster.series import SeriesKey
from tests.support.candles import LAST_DAY, clock_after, store_candles, window
from tests.support.rows import assert_same_rows, series_rows
from tests.support.tiny import TINY_JOB, params

KEY = SeriesKey("binance", "BTC/USDT", "1d")

SYMBOLS = ("BTC/USDT", "ETH/USDT")


@pytest.fixture(scope="module", autouse=True)
def prefect_server() -> Iterator[None]:
    """A Prefect server of this module's own."""
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def loopback(btc: pd.DataFrame, eth: pd.DataFrame) -> Iterator[LoopbackExchange]:
    with LoopbackExchange({"BTC/USDT": window(btc), "ETH/USDT": window(eth)}, now=clock_after(LAST_DAY)) as server:
        yield server


def run_daily(url: str, data_dir: Path, api_url: str, runs: int) -> list[Any]:
    """``runs`` daily runs of both symbols, started together from as many threads; their final states."""
    start = threading.Barrier(runs)
    states: list[Any] = [None] * runs

    def one(index: int) -> None:
        start.wait()
        states[index] = daily(params(*SYMBOLS), api_url=api_url, return_state=True)

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
def single_run_rows(loopback: LoopbackExchange) -> dict[str, pd.DataFrame]:
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
    assert {str(path.resolve()) for path in (tmp_path / "data").rglob("*.ckpt")} == checkpoints  # no loser's file


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_series_lock_makes_a_second_holder_wait(database_url, sessions):
    held, order = threading.Event(), []

    def second() -> None:
        held.wait()
        with advisory_lock(sessions, "forecaster train binance BTC/USDT 1d live"):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with advisory_lock(sessions, "forecaster train binance BTC/USDT 1d live"):
        held.set()
        time.sleep(1.0)  # the second holder is waiting meanwhile
        with advisory_lock(sessions, "forecaster train binance ETH/USDT 1d live"):
            order.append("another series does not wait")
        order.append("first")
    thread.join(timeout=30)
    assert order == ["another series does not wait", "first", "second"]


TRAIN_TOGETHER = r"""
import json, sys, time
from datetime import datetime
from pathlib import Path
from forecaster.db.engine import make_engine, session_factory
from forecaster.series import SeriesKey
from forecaster.pipeline.config import JobConfig
from forecaster.pipeline.train import train_step

url, key, as_of, job, data, ready, name = sys.argv[1:]
sessions = session_factory(make_engine(url))
Path(ready, name).touch()
while len(list(Path(ready).iterdir())) < 2:  # both processes imported: start together
    time.sleep(0.01)
outcome = train_step(sessions, SeriesKey(*json.loads(key)), datetime.fromisoformat(as_of), "auto",
                     JobConfig.model_validate_json(job), Path(data))
print(json.dumps({"trained": outcome.trained, "version": outcome.version_id}))
"""


def test_two_processes_training_the_same_day_register_one_version(database_url, btc, sessions, tmp_path):
    history = btc[(btc["ts"] >= "2024-01-01") & (btc["ts"] <= "2024-06-30")]
    store_candles(sessions, KEY, history)
    as_of = history["ts"].iloc[-1].to_pydatetime()
    (tmp_path / "ready").mkdir()
    args = [database_url, json.dumps([KEY.exchange, KEY.symbol, KEY.timeframe]), as_of.isoformat()]
    args += [TINY_JOB.model_dump_json(), str(tmp_path / "data"), str(tmp_path / "ready")]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", TRAIN_TOGETHER, *args, name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for name in ("a", "b")
    ]
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]
        outcomes.append(json.loads(out.strip().splitlines()[-1]))

    with sessions() as session:
        (version,) = session.scalars(select(ModelVersion)).all()
    assert {outcome["version"] for outcome in outcomes} == {version.id}
    assert [str(path.resolve()) for path in (tmp_path / "data").rglob("*.ckpt")] == [version.checkpoint_path]
    trained = sum(outcome["trained"] for outcome in outcomes)
    if database_url.startswith("postgresql"):
        assert trained == 1  # the second waited on the series lock, then reused the first one's version
    else:
        assert trained in (1, 2)  # SQLite: both may train; the second registration yields to the first
