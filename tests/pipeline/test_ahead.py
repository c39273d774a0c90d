"""Full retrains fitted ahead in a second process change nothing but the time (``forecaster.pipeline.ahead``)."""

from __future__ import annotations

import pandas as pd
import pytest

from forecaster.db.engine import make_engine, session_factory
from forecaster.db.migrate import upgrade
from forecaster.pipeline.backtest import BacktestSummary, backtest_config, run_backtest
from forecaster.series import SeriesKey
from tests.support.candles import store_candles
from tests.support.rows import assert_same_rows, series_rows
from tests.support.tiny import TINY_JOB

KEY = SeriesKey("binance", "BTC/USDT", "1d")
START, END = pd.Timestamp("2024-06-01", tz="UTC").to_pydatetime(), pd.Timestamp("2024-06-12", tz="UTC").to_pydatetime()
pytestmark = pytest.mark.slow  # starts a worker process (torch imports) and runs two backtests


def backtest(btc: pd.DataFrame, folder, job, workers: int) -> tuple[BacktestSummary, str]:
    """A backtest of KEY on a fresh SQLite database in ``folder``: its summary and the database's URL."""
    url = f"sqlite:///{folder / 'backtest.db'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    store_candles(sessions, KEY, btc[(btc["ts"] >= "2023-12-01") & (btc["ts"] <= "2024-06-20")])
    summary = run_backtest(sessions, KEY, START, END, job, folder / "checkpoints", workers=workers)
    engine.dispose()
    return summary, url


@pytest.mark.parametrize(
    "degrade_margin",
    [
        pytest.param(10.0, id="weekly"),  # every full retrain on its cadence: all fitted ahead but the first
        pytest.param(0.0, id="degraded"),  # full retrains also on days the guess did not foresee
    ],
)
def test_fits_ahead_give_the_same_models_and_forecasts(btc, tmp_path, degrade_margin):
    job = backtest_config(TINY_JOB, retrain_every=4, horizon=3)
    job = job.model_copy(update={"train": job.train.model_copy(update={"degrade_margin": degrade_margin})})
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    alone, alone_url = backtest(btc, tmp_path / "one", job, workers=1)
    ahead, ahead_url = backtest(btc, tmp_path / "two", job, workers=2)

    assert_same_rows(series_rows(ahead_url), series_rows(alone_url))  # candles, model versions, forecasts
    full = [day.day for day in alone.days if day.mode == "full"]
    assert alone.ahead == 0 and 1 <= ahead.ahead <= len(full) - 1  # the first full retrain is never ahead
    if degrade_margin > 1:
        assert ahead.ahead == len(full) - 1 and len(full) == 3  # days 1, 5, 9 of 12
    else:
        assert ahead.ahead < len(full) - 1  # some full retrains came on days no guess foresaw
    assert f"{ahead.ahead} fitted ahead" in ahead.line()
