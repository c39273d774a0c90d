"""Full retrains fitted ahead in a second process change nothing but the time (``forecaster.pipeline.ahead``)."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from forecaster.db.engine import make_engine, session_factory
from forecaster.db.migrate import upgrade
from forecaster.db.models import Forecast, ModelVersion
from forecaster.pipeline.backtest import backtest_config, run_backtest
from forecaster.series import SeriesKey
from tests.support.candles import store_candles
from tests.support.tiny import TINY_JOB

KEY = SeriesKey("binance", "BTC/USDT", "1d")
START, END = pd.Timestamp("2024-06-01", tz="UTC").to_pydatetime(), pd.Timestamp("2024-06-12", tz="UTC").to_pydatetime()
pytestmark = pytest.mark.slow  # starts a worker process (torch imports) and runs two backtests


def backtest(btc: pd.DataFrame, folder, job, workers: int):
    engine = make_engine(f"sqlite:///{folder / 'backtest.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    store_candles(sessions, KEY, btc[(btc["ts"] >= "2023-12-01") & (btc["ts"] <= "2024-06-20")])
    summary = run_backtest(sessions, KEY, START, END, job, folder / "checkpoints", workers=workers)
    with sessions() as session:
        rows = session.execute(
            select(Forecast.model, Forecast.as_of, Forecast.horizon, Forecast.yhat, Forecast.yhat_lower)
            .where(Forecast.run_kind == "backtest")
            .order_by(Forecast.as_of, Forecast.model, Forecast.horizon)
        ).all()
        versions = session.execute(
            select(ModelVersion.train_end, ModelVersion.mode, ModelVersion.val_loss).order_by(ModelVersion.train_end)
        ).all()
    engine.dispose()
    return summary, pd.DataFrame(rows), pd.DataFrame(versions)


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
    alone, alone_rows, alone_versions = backtest(btc, tmp_path / "one", job, workers=1)
    ahead, ahead_rows, ahead_versions = backtest(btc, tmp_path / "two", job, workers=2)

    pd.testing.assert_frame_equal(ahead_versions, alone_versions)
    pd.testing.assert_frame_equal(ahead_rows, alone_rows)
    full = [day.day for day in alone.days if day.mode == "full"]
    assert alone.ahead == 0 and 1 <= ahead.ahead <= len(full) - 1  # the first full retrain is never ahead
    if degrade_margin > 1:
        assert ahead.ahead == len(full) - 1 and len(full) == 3  # days 1, 5, 9 of 12
    else:
        assert ahead.ahead < len(full) - 1  # some full retrains came on days no guess foresaw
    assert f"{ahead.ahead} fitted ahead" in ahead.line()
