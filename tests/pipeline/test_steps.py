"""The job's steps on a real database: train, forecast, evaluate; a rerun of a day changes nothing."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select

from forecaster.db.models import Forecast, ForecastEvaluation, ModelVersion
from forecaster.errors import InputError
from forecaster.pipeline.config import JobConfig
from forecaster.pipeline.evaluate import evaluate_step
from forecaster.pipeline.forecast import forecast_step
from forecaster.pipeline.train import train_step
from forecaster.series import SeriesKey
from tests.support.candles import store_candles
from tests.support.tiny import TINY_JOB

KEY = SeriesKey("binance", "BTC/USDT", "1d")


@pytest.fixture
def config() -> JobConfig:
    return TINY_JOB


def store(sessions, frame: pd.DataFrame) -> None:
    store_candles(sessions, KEY, frame)


def count(sessions, table) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def test_train_forecast_evaluate_and_rerun_changes_nothing(btc, sessions, config, tmp_path):
    history = btc[(btc["ts"] >= "2024-01-01") & (btc["ts"] <= "2024-06-30")]
    store(sessions, history.iloc[:-3])
    as_of = history["ts"].iloc[-4].to_pydatetime()

    outcome = train_step(sessions, KEY, as_of, "auto", config, tmp_path)
    assert outcome.trained and outcome.mode == "full" and outcome.reason == "no parent model"
    written = forecast_step(sessions, KEY, as_of, config)
    assert sorted(written.written) == ["bilstm_gru", "drift", "garch", "moving_average", "naive"]
    assert count(sessions, Forecast) == 5 * 3
    # a baseline's fallback is said: 120 days are too few for a GARCH fit (the tiny job's window)
    assert written.problems == ["garch: 119 daily returns, a GARCH fit needs 250: empirical intervals used"]
    assert written.problems[0] in written.line(KEY, as_of)

    # the same day again: nothing new
    again = train_step(sessions, KEY, as_of, "auto", config, tmp_path)
    assert not again.trained and again.version_id == outcome.version_id
    assert forecast_step(sessions, KEY, as_of, config).written == []
    assert count(sessions, Forecast) == 15 and count(sessions, ModelVersion) == 1

    # the next three days arrive: every forecast matures and is scored once
    store(sessions, history.iloc[-3:])
    assert evaluate_step(sessions, KEY) == 15
    assert evaluate_step(sessions, KEY) == 0
    with sessions() as session:
        naive = session.execute(
            select(Forecast.yhat, ForecastEvaluation.actual, ForecastEvaluation.error, ForecastEvaluation.direction_hit)
            .join(ForecastEvaluation)
            .where(Forecast.model == "naive", Forecast.horizon == 2)
        ).one()
    assert naive.yhat == pytest.approx(history["close"].iloc[-4])
    assert naive.actual == pytest.approx(history["close"].iloc[-2])
    assert naive.error == pytest.approx(naive.actual - naive.yhat)
    assert naive.direction_hit is None  # naive calls no direction

    # the next day fine-tunes from the parent under the auto policy
    next_day = history["ts"].iloc[-3].to_pydatetime()
    tuned = train_step(sessions, KEY, next_day, "auto", config, tmp_path)
    assert tuned.trained and tuned.mode == "finetune"
    with sessions() as session:
        child = session.get_one(ModelVersion, tuned.version_id)
    assert child.parent_id == outcome.version_id and child.manifest["candles"]["last"].startswith(
        f"{next_day:%Y-%m-%d}"
    )


def test_forecast_needs_the_as_of_candle(sessions, config, btc, tmp_path):
    store(sessions, btc.iloc[:50])
    with pytest.raises(InputError, match="no candle of binance BTC/USDT 1d for 2030-01-01"):
        forecast_step(sessions, KEY, pd.Timestamp("2030-01-01", tz="UTC").to_pydatetime(), config)
    with pytest.raises(InputError, match="no model to fine-tune yet"):
        train_step(sessions, KEY, btc["ts"].iloc[49].to_pydatetime(), "finetune", config, tmp_path)
