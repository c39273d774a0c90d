from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecaster.model.baselines import (
    MIN_CALIBRATION,
    baseline_forecast,
    baseline_names,
    calendar_closes,
    hstep_log_returns,
    spans,
)
from forecaster.model.data import cut_window
from tests.support.candles import make_candles

CLOSES = np.array([100.0, 102.0, 101.0, 104.0, 103.0, 106.0, 105.0, 108.0, 110.0, 109.0])


@pytest.fixture
def candles() -> pd.DataFrame:
    frame = make_candles(np.log(CLOSES / np.concatenate([[100.0], CLOSES[:-1]])))
    np.testing.assert_allclose(frame["close"], CLOSES)
    return frame


def walk(n: int, seed: int = 0, sigma: float = 0.02) -> pd.DataFrame:
    return make_candles(np.random.default_rng(seed).normal(0.0, sigma, size=n), seed=seed)


def test_names() -> None:
    assert baseline_names() == ("naive", "drift", "moving_average", "garch")
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
    # garch's point is naive's
    np.testing.assert_allclose(baseline_forecast("garch", candles, as_of, horizon=3)["yhat"], 109.0)


def test_intervals_by_hand() -> None:
    frame_candles = walk(60, seed=3)
    closes = frame_candles["close"].to_numpy()
    frame = baseline_forecast("naive", frame_candles, frame_candles["ts"].iloc[-1], horizon=3, interval_level=0.8)
    assert frame.attrs["notes"] == []
    expected = []
    for h in (1, 2, 3):
        returns = np.log(closes[h:] / closes[:-h])  # 59, 58, 57 returns: all >= MIN_CALIBRATION
        expected.append(np.quantile(returns, [0.1, 0.9]) - np.median(returns))
    lower = np.minimum.accumulate([low for low, _ in expected])  # the envelope
    upper = np.maximum.accumulate([high for _, high in expected])
    np.testing.assert_allclose(frame["yhat_lower"], closes[-1] * np.exp(lower))
    np.testing.assert_allclose(frame["yhat_upper"], closes[-1] * np.exp(upper))
    assert (frame["yhat_lower"] < frame["yhat"]).all() and (frame["yhat"] < frame["yhat_upper"]).all()


def test_too_few_h_day_returns_take_the_1_day_quantiles_times_sqrt_h() -> None:
    candles = walk(36, seed=4)  # 35 1-day returns; h-day: 36 - h, below 30 from h = 7
    closes = candles["close"].to_numpy()
    frame = baseline_forecast("naive", candles, candles["ts"].iloc[-1], horizon=7)
    assert frame.attrs["notes"] == ["naive: fewer than 30 h-day returns, 1-day quantiles x sqrt(h) used for h 7"]
    daily = np.log(closes[1:] / closes[:-1])
    scaled = np.sqrt(7) * (np.quantile(daily, [0.1, 0.9]) - np.median(daily))
    sixth = np.log(frame[["yhat_lower", "yhat_upper"]].iloc[5].to_numpy() / closes[-1])
    expected = np.minimum(scaled[0], sixth[0]), np.maximum(scaled[1], sixth[1])
    np.testing.assert_allclose(np.log(frame[["yhat_lower", "yhat_upper"]].iloc[6] / closes[-1]), expected)


def test_too_few_1_day_returns_give_no_interval() -> None:
    candles = walk(MIN_CALIBRATION)  # 29 returns
    for name in baseline_names():
        frame = baseline_forecast(name, candles, candles["ts"].iloc[-1], horizon=3)
        assert frame[["yhat_lower", "yhat_upper"]].isna().all().all()
        assert frame["yhat"].notna().all()
        assert (
            f"{name}: fewer than 30 h-day and 1-day returns (29 1-day), no interval for h 1..3" in frame.attrs["notes"]
        )


def test_a_mean_reverting_window_does_not_narrow_the_longer_horizons() -> None:
    # +1 %, -1 %, ...: every 2-day return is 0, so the 2-day quantiles alone would give a zero-width interval
    candles = make_candles(np.tile([0.01, -0.01], 50))
    frame = baseline_forecast("naive", candles, candles["ts"].iloc[-1], horizon=4)
    width = (frame["yhat_upper"] - frame["yhat_lower"]).to_numpy()
    assert width[0] > 0 and (np.diff(width) >= 0).all()
    assert width[1] == width[0]  # the envelope carries horizon 1's interval


def test_a_drift_line_below_zero_has_no_interval() -> None:
    candles = make_candles(np.full(60, np.log(0.9)))  # -10 % a day: 100 -> 0.18 in 60 days
    frame = baseline_forecast("drift", candles, candles["ts"].iloc[-1], horizon=3)
    assert (frame["yhat"] < 0).all() and frame[["yhat_lower", "yhat_upper"]].isna().all().all()
    assert frame.attrs["notes"] == ["drift: point forecast not above 0, no interval for h 1..3"]


def test_spans() -> None:
    assert spans([1, 2, 3, 5, 7, 8]) == "1..3, 5, 7..8" and spans([4]) == "4" and spans([]) == ""


def test_hstep_returns_skip_gaps(candles: pd.DataFrame) -> None:
    gapped = candles.drop(index=[4]).reset_index(drop=True)
    returns = hstep_log_returns(calendar_closes(gapped), 1)
    assert len(returns) == 7  # pairs (3,4) and (4,5) are gone
    assert np.log(CLOSES[5] / CLOSES[3]) not in returns


def test_needs_the_as_of_candle(candles: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="needs the candle"):
        baseline_forecast("naive", candles, candles["ts"].iloc[-1] + pd.Timedelta(days=1))


@st.composite
def series(draw: st.DrawFn) -> pd.DataFrame:
    """Daily candles: a random walk, a trend (crashes included), a flat line, or a walk with missing days."""
    kind = draw(st.sampled_from(["walk", "trending", "flat", "gapped"]))
    n = draw(st.one_of(st.integers(1, 120), st.integers(280, 420)))  # short, or long enough for GARCH fits
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "flat":
        returns = np.zeros(n)
    elif kind == "trending":
        noise = draw(st.sampled_from([0.0, 0.001, 0.03]))
        returns = draw(st.floats(-0.06, 0.06)) + rng.normal(0.0, noise, n)
    else:
        returns = rng.standard_t(4, n) * draw(st.floats(0.002, 0.08))
    candles = make_candles(returns)
    if kind == "gapped":
        keep = rng.random(n) >= draw(st.floats(0.02, 0.7))
        keep[-1] = True
        candles = candles[keep].reset_index(drop=True)
    return candles


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    candles=series(),
    window_days=st.sampled_from([20, 60, 365, 730, 730]),
    horizon=st.integers(1, 7),
    level=st.sampled_from([0.5, 0.8, 0.95]),
)
def test_interval_invariants_of_every_baseline(
    candles: pd.DataFrame, window_days: int, horizon: int, level: float
) -> None:
    as_of = candles["ts"].iloc[-1]
    calendar = calendar_closes(cut_window(candles, as_of, window_days))
    counts = np.array([hstep_log_returns(calendar, h).size for h in range(1, horizon + 1)])
    for name in baseline_names():
        frame = baseline_forecast(name, candles, as_of, horizon=horizon, interval_level=level, window_days=window_days)
        yhat, lower, upper = (frame[column].to_numpy() for column in ("yhat", "yhat_lower", "yhat_upper"))
        has = np.isfinite(lower)
        # finite or NaN only, both bounds together
        assert not np.isinf(lower).any() and not np.isinf(upper).any()
        assert (has == np.isfinite(upper)).all()
        assert (lower[has] <= yhat[has]).all() and (yhat[has] <= upper[has]).all()
        # never from fewer than MIN_CALIBRATION returns: its own h-day ones, or the 1-day ones scaled
        assert ((counts >= MIN_CALIBRATION) | (counts[0] >= MIN_CALIBRATION))[has].all()
        # never narrower further out: relative widths for every baseline, price widths where the point is flat
        relative = np.log(upper[has] / lower[has])
        assert (np.diff(relative) >= -1e-12).all()
        if name != "drift":
            assert (np.diff(upper[has] - lower[has]) >= 0).all()
        # a fallback is said
        notes = frame.attrs["notes"]
        assert all(note.startswith(f"{name}: ") for note in notes)
        if name != "garch" and ((counts < MIN_CALIBRATION) & has).any():
            assert any("1-day quantiles x sqrt(h)" in note for note in notes)
        if (~has).any():
            assert any("no interval" in note for note in notes)
