from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.model.baselines import baseline_forecast, baseline_names, calendar_closes, hstep_log_returns
from tests.support.candles import make_candles

CLOSES = np.array([100.0, 102.0, 101.0, 104.0, 103.0, 106.0, 105.0, 108.0, 110.0, 109.0])


@pytest.fixture
def candles() -> pd.DataFrame:
    frame = make_candles(np.log(CLOSES / np.concatenate([[100.0], CLOSES[:-1]])))
    np.testing.assert_allclose(frame["close"], CLOSES)
    return frame


def test_names() -> None:
    assert baseline_names() == ("naive", "drift", "moving_average")
    with pytest.raises(ValueError, match="known baselines"):
        baseline_forecast("arima", pd.DataFrame(), pd.Timestamp("2021-01-01", tz="UTC"))


def test_point_forecasts_by_hand(candles: pd.DataFrame) -> None:
    as_of = candles["ts"].iloc[-1]
    naive = baseline_forecast("naive", candles, as_of, horizon=3)
    assert list(naive.columns) == ["horizon", "target_ts", "yhat", "yhat_lower", "yhat_upper"]
    assert naive["horizon"].tolist() == [1, 2, 3]
    assert naive["target_ts"].tolist() == [as_of + pd.Timedelta(days=h) for h in (1, 2, 3)]
    np.testing.assert_allclose(naive["yhat"], 109.0)
    # drift: slope (109 - 100) / 9 days = 1 per day
    np.testing.assert_allclose(baseline_forecast("drift", candles, as_of, horizon=3)["yhat"], [110.0, 111.0, 112.0])
    np.testing.assert_allclose(
        baseline_forecast("moving_average", candles, as_of, horizon=3)["yhat"], CLOSES[-7:].mean()
    )
    # a 5-day window: drift from 106 (day 6) to 109 (day 10) over 4 days
    drift5 = baseline_forecast("drift", candles, as_of, horizon=2, window_days=5)
    np.testing.assert_allclose(drift5["yhat"], [109.75, 110.5])


def test_intervals_by_hand(candles: pd.DataFrame) -> None:
    as_of = candles["ts"].iloc[-1]
    frame = baseline_forecast("naive", candles, as_of, horizon=2, interval_level=0.8)
    for h in (1, 2):
        returns = np.log(CLOSES[h:] / CLOSES[:-h])
        centre = np.median(returns)
        row = frame.iloc[h - 1]
        assert row["yhat_lower"] == pytest.approx(109.0 * np.exp(np.quantile(returns, 0.1) - centre))
        assert row["yhat_upper"] == pytest.approx(109.0 * np.exp(np.quantile(returns, 0.9) - centre))
        assert row["yhat_lower"] < row["yhat"] < row["yhat_upper"]


def test_hstep_returns_skip_gaps(candles: pd.DataFrame) -> None:
    gapped = candles.drop(index=[4]).reset_index(drop=True)
    returns = hstep_log_returns(calendar_closes(gapped), 1)
    assert len(returns) == 7  # pairs (3,4) and (4,5) are gone
    assert np.log(CLOSES[5] / CLOSES[3]) not in returns


def test_needs_the_as_of_candle(candles: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="needs the candle"):
        baseline_forecast("naive", candles, candles["ts"].iloc[-1] + pd.Timedelta(days=1))
