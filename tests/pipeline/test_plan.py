"""The plan: which as-of days a run owes, holes and incomplete sets included."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from forecaster.errors import InputError
from forecaster.model.baselines import baseline_names
from forecaster.pipeline.plan import days_to_forecast
from forecaster.results.forecasts import MODEL, forecast_rows, write_forecasts
from forecaster.series import SeriesKey
from tests.support.candles import store_candles

KEY = SeriesKey("binance", "BTC/USDT", "1d")
DAYS = pd.date_range("2024-06-01", "2024-06-30", freq="D", tz="UTC")


def candles(days: pd.DatetimeIndex) -> pd.DataFrame:
    close = pd.Series(range(100, 100 + len(days)), dtype=float)
    return pd.DataFrame({"ts": days, "open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 1.0})


def forecast_set(sessions, day: pd.Timestamp, models: list[str]) -> None:
    """A horizon-1 forecast of each of ``models`` for ``day``, written as the forecast step writes them."""
    frame = pd.DataFrame(
        {
            "horizon": [1],
            "target_ts": [day + pd.Timedelta(days=1)],
            "yhat": [1.0],
            "yhat_lower": [0.9],
            "yhat_upper": [1.1],
        }
    )
    with sessions.begin() as session:
        for model in models:
            write_forecasts(
                session,
                forecast_rows(
                    frame,
                    model=model,
                    key=KEY,
                    as_of=day.to_pydatetime(),
                    run_id=None,
                    run_kind="live",
                    interval_level=0.8,
                ),
            )


ALL = [MODEL, *baseline_names()]


def owed(sessions, as_of=None, catch_up_days=7) -> list[str]:
    days = days_to_forecast(sessions, KEY, as_of, catch_up_days, "live")
    return [f"{day:%m-%d}" for day in days]


def test_a_series_never_forecast_starts_at_the_target(sessions):
    store_candles(sessions, KEY, candles(DAYS))
    assert owed(sessions) == ["06-30"]


def test_holes_left_by_a_rerun_of_an_older_day_are_filled(sessions):
    store_candles(sessions, KEY, candles(DAYS))
    forecast_set(sessions, DAYS[-6], ALL)  # 06-25
    forecast_set(sessions, DAYS[-1], ALL)  # 06-30, as a manual run with no catch-up would leave it
    assert owed(sessions) == ["06-26", "06-27", "06-28", "06-29"]
    assert owed(sessions, catch_up_days=2) == ["06-28", "06-29"]


def test_a_day_without_the_model_forecast_is_owed_again(sessions):
    store_candles(sessions, KEY, candles(DAYS))
    forecast_set(sessions, DAYS[-2], ALL)
    forecast_set(sessions, DAYS[-1], list(baseline_names()))  # the training of 06-30 failed: baselines only
    assert owed(sessions) == ["06-30"]


def test_an_as_of_day_whose_candle_has_not_closed_says_so(sessions):
    today = pd.Timestamp.now(tz="UTC").normalize()
    store_candles(sessions, KEY, candles(pd.date_range(today - timedelta(days=10), periods=10, freq="D")))
    with pytest.raises(InputError, match=f"the candle of {KEY} for {today:%Y-%m-%d} has not closed yet"):
        owed(sessions, as_of=today.to_pydatetime())
    with pytest.raises(InputError, match="ingest it first"):
        owed(sessions, as_of=(today - timedelta(days=20)).to_pydatetime())
