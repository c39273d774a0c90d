"""Candles of any fixed timeframe can be ingested and imported; every step that models them (train,
forecast, evaluate, report, backtest, run) refuses a non-daily series in one line before doing anything."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from flows.params import check_pairs
from forecaster.db.models import Candle, Forecast, IngestRun, ModelVersion, Run
from forecaster.errors import InputError
from forecaster.exchange.synthetic import synthetic_candles
from forecaster.pipeline.backtest import backtest_config, check_range
from forecaster.pipeline.config import JobConfig
from forecaster.pipeline.evaluate import evaluate_step
from forecaster.pipeline.forecast import forecast_step
from forecaster.pipeline.plan import days_to_forecast
from forecaster.pipeline.train import train_step
from forecaster.series import SeriesKey
from tests.support.candles import store_candles
from tests.support.cli import forecaster
from tests.support.rows import row_count

REFUSAL = "timeframe '4h': training, forecasts, evaluation, reports and backtests take daily (1d) series only"
KEY = SeriesKey("binance", "BTC/USDT", "4h")
# 600 four-hour candles: a hundred days, plenty for the tiny model had it counted in days
CANDLES = synthetic_candles("BTC/USDT", "2024-01-01", "2024-04-09 20:00", timeframe="4h")
AS_OF = CANDLES["ts"].iloc[-1].to_pydatetime()


SERIES = ["-e", "binance", "-s", "BTC/USDT", "--timeframe", "4h"]
COMMANDS = [
    ["train", *SERIES],
    ["forecast", *SERIES],
    ["evaluate", *SERIES],
    ["report", *SERIES],
    ["backtest", *SERIES, "--start", "2024-03-01", "--end", "2024-03-31"],
    ["run", "-e", "binance", "--symbols", "BTC/USDT", "--timeframe", "4h"],
]


@pytest.mark.slow  # the console command, seven times
def test_4h_candles_import_and_every_modelling_command_refuses_them(tmp_path: Path):
    csv = tmp_path / "btc_4h.csv"
    CANDLES.rename(columns={"ts": "timestamp"}).to_csv(csv, index=False)
    url = f"sqlite:///{tmp_path / 'four_hours.db'}"
    args = ["import-csv", str(csv), "-e", "binance", "--symbol", "BTC/USDT", "--timeframe", "4h", "--database-url", url]
    imported = forecaster(*args, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert row_count(url, Candle) == 600

    for args in COMMANDS:
        result = forecaster(*args, "--database-url", url, cwd=tmp_path)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert result.stderr.count("\n") == 1 and REFUSAL in result.stderr, (args, result.stderr)
    assert row_count(url, Candle) == 600 and row_count(url, IngestRun) == 1  # the import's, nothing after it
    assert row_count(url, Run) == row_count(url, ModelVersion) == row_count(url, Forecast) == 0


def test_the_library_steps_refuse_a_non_daily_series_before_touching_it(sessions, tmp_path: Path):
    store_candles(sessions, KEY, CANDLES)
    job = JobConfig()
    steps = [
        lambda: train_step(sessions, KEY, AS_OF, "full", job, tmp_path),
        lambda: forecast_step(sessions, KEY, AS_OF, job),
        lambda: evaluate_step(sessions, KEY),
        lambda: days_to_forecast(sessions, KEY, None, 7, "live"),
        lambda: check_range(
            sessions, KEY, datetime(2024, 3, 1, tzinfo=UTC), AS_OF, backtest_config(job, retrain_every=7, horizon=7)
        ),
    ]
    for step in steps:
        with pytest.raises(InputError, match=re.escape(REFUSAL)):
            step()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ModelVersion)) == 0
        assert session.scalar(select(func.count()).select_from(Forecast)) == 0
    assert not list(tmp_path.rglob("*.ckpt"))


def test_flow_parameters_refuse_a_non_daily_pair_in_one_line():
    with pytest.raises(InputError, match=re.escape(REFUSAL)):
        check_pairs([SeriesKey("binance", "BTC/USDT", "4h")])
