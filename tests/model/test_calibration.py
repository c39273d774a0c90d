"""The residual sets behind the model's intervals, and the invariants of the forecasts they give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecaster.model.calibration import (
    band_scales,
    forecast_scales,
    history_residuals,
    scale_table,
    serving_calibration,
    start_up_calibration,
)
from forecaster.model.config import ModelConfig
from forecaster.model.intervals import MIN_LEDGER, apply_intervals, calibrate
from forecaster.model.predict import forecast
from forecaster.model.scaling import Scaler
from forecaster.model.train import seed_everything, train
from forecaster.model.volatility import VOLATILITY_FLOOR, daily_volatility
from tests.support.candles import make_candles
from tests.support.tiny import TINY_MODEL, TINY_TRAIN

DAY = pd.Timedelta(days=1)


@st.composite
def series(draw: st.DrawFn) -> pd.DataFrame:
    """Daily candles that trend, stay flat or wander, with missing days."""
    n = draw(st.integers(60, 240))
    kind = draw(st.sampled_from(["trend", "flat", "walk"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    drift = draw(st.floats(-0.02, 0.02))
    returns = {"trend": drift + rng.normal(0, 0.002, n), "flat": np.zeros(n), "walk": rng.normal(0, 0.04, n)}[kind]
    frame = make_candles(returns)
    missing = draw(st.lists(st.integers(1, n - 2), max_size=n // 4, unique=True))
    return frame.drop(index=missing).reset_index(drop=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series(), st.sampled_from(["volatility", "flat"]))
def test_history_intervals_keep_the_invariants_on_gapped_trending_and_flat_series(candles, basis):
    sets = history_residuals(candles, 7, basis)
    assert all(np.isfinite(s).all() for s in sets)
    if min(len(s) for s in sets) < 30:
        return  # no interval from so few (the fallback below covers it)
    calibration = calibrate(sets, 0.8, "history")
    yhat = np.full(7, float(candles["close"].iloc[-1]))
    lower, upper = apply_intervals(yhat, forecast_scales(candles, 7, basis), calibration.lower, calibration.upper)
    assert np.all(lower <= yhat) and np.all(yhat <= upper) and np.all(np.diff(np.log(upper / lower)) >= -1e-12)


def test_volatility_is_floored_and_counts_a_gap_as_its_days():
    flat = make_candles(np.zeros(50))
    assert daily_volatility(flat).iloc[1:].min() == VOLATILITY_FLOOR
    # moves of 1 % a day, up and down; then every other day missing, with moves of sqrt(2) %: the same volatility
    daily = make_candles(0.01 * (-1.0) ** np.arange(40))
    two_day = make_candles(np.tile(np.sqrt(2) * 0.01 * np.array([1, 0, -1, 0]), 20)).iloc[::2].reset_index(drop=True)
    assert daily_volatility(daily).iloc[-1] == pytest.approx(0.01, rel=1e-9)
    assert daily_volatility(two_day).iloc[-1] == pytest.approx(0.01, rel=1e-9)


def test_start_up_falls_back_to_history_then_to_no_interval():
    candles = make_candles(np.random.default_rng(0).normal(0, 0.02, 300))
    days = pd.DatetimeIndex(candles["ts"].iloc[-20:])
    few = np.random.default_rng(1).normal(0, 0.02, (20, 3))
    assert start_up_calibration(few, days, candles, 0.8, "volatility").source == "history"
    many = np.random.default_rng(1).normal(0, 0.02, (200, 3))
    assert start_up_calibration(many, pd.DatetimeIndex(candles["ts"].iloc[-200:]), candles, 0.8, "flat").source == (
        "validation"
    )
    short = candles.iloc[:25]
    none = start_up_calibration(few, days, short, 0.8, "volatility")
    assert none.source == "none" and none.lower == ()


def record(n: int, horizon: int, miss_every: int = 5) -> pd.DataFrame:
    """A track record of ``n`` forecasts per horizon that missed once in ``miss_every``."""
    rng = np.random.default_rng(4)
    rows = []
    if n == 0:
        return pd.DataFrame(columns=["as_of", "horizon", "yhat", "yhat_lower", "yhat_upper", "actual"])
    for i in range(n):
        for h in range(1, horizon + 1):
            actual = 100.0 * np.exp(rng.normal(0, 0.02 * np.sqrt(h)))
            miss = i % miss_every == 0
            rows.append(
                {
                    "as_of": pd.Timestamp("2021-01-01", tz="UTC") + 200 * DAY + i * DAY,
                    "horizon": h,
                    "yhat": 100.0,
                    "yhat_lower": actual * 1.01 if miss else actual * 0.99,
                    "yhat_upper": actual * 1.02 if miss else actual * 1.01,
                    "actual": actual,
                }
            )
    return pd.DataFrame(rows)


def test_the_track_record_takes_over_once_every_horizon_has_enough_and_adapts_to_misses():
    candles = make_candles(np.random.default_rng(0).normal(0, 0.02, 300 + MIN_LEDGER))
    own = ModelConfig(horizon=3, interval_residuals="track_record")
    assert serving_calibration(record(MIN_LEDGER - 1, 3), candles, own, "volatility", 200) is None
    calm = serving_calibration(record(MIN_LEDGER + 40, 3, miss_every=10), candles, own, "volatility", 200)
    stormy = serving_calibration(record(MIN_LEDGER + 40, 3, miss_every=2), candles, own, "volatility", 200)
    assert calm is not None and stormy is not None and calm.source == "ledger"
    assert all(a > 0.2 for a in calm.alpha) and all(a < 0.2 for a in stormy.alpha)  # fewer misses: narrower
    assert calm.alpha[0] - 0.2 > calm.alpha[2] - 0.2 > 0  # a step of gamma / h
    assert all(s > c for s, c in zip(stormy.upper, calm.upper, strict=True))
    assert "ledger" in calm.note()


def test_history_residuals_calibrate_from_the_first_day_and_the_track_record_moves_their_level():
    candles = make_candles(np.random.default_rng(0).normal(0, 0.02, 400))
    cfg = ModelConfig(horizon=3)
    assert cfg.interval_residuals == "history"
    empty = record(0, 3)
    first = serving_calibration(empty, candles, cfg, "volatility", 365)
    assert first is not None and first.source == "history" and first.alpha == pytest.approx((0.2, 0.2, 0.2))
    assert min(first.n) >= 360
    missed = serving_calibration(record(MIN_LEDGER, 3, miss_every=2), candles, cfg, "volatility", 365)
    assert missed is not None and all(a < 0.2 for a in missed.alpha)
    assert all(m > f for m, f in zip(missed.upper, first.upper, strict=True))
    assert serving_calibration(empty, candles.iloc[:20], cfg, "volatility", 365) is None  # too short: the fit's


@pytest.mark.parametrize(
    ("val_days", "source"), [(TINY_TRAIN.val_days, "history"), (60, "validation")], ids=["few", "enough"]
)
def test_a_fit_calibrates_on_its_validation_windows_only_when_there_are_enough(val_days, source):
    candles = make_candles(np.random.default_rng(5).normal(0, 0.02, 300))
    as_of = candles["ts"].iloc[-1]
    seed_everything(3)
    model = train(candles, as_of, TINY_MODEL, TINY_TRAIN.model_copy(update={"val_days": val_days}))
    assert model.interval_source == source and model.interval_basis == "flat"
    frame = forecast(model, candles, as_of)
    assert (frame["yhat_lower"] <= frame["yhat"]).all() and (frame["yhat"] <= frame["yhat_upper"]).all()
    assert source in frame.attrs["calibration"]


def test_scale_tables_of_every_basis():
    rng = np.random.default_rng(6)
    calm, stormy = rng.normal(0, 0.01, 300), rng.normal(0, 0.05, 100)
    candles = make_candles(np.concatenate([calm, stormy])).drop(index=[350]).reset_index(drop=True)
    flat = scale_table(candles, 7, "flat")
    assert (flat.to_numpy() == 1.0).all() and flat.attrs["basis"] == "flat"
    for basis in ("volatility", "garch"):
        table = scale_table(candles, 7, basis)
        assert table.attrs["basis"] == basis and list(table.columns) == list(range(1, 8))
        values = table.dropna().to_numpy()
        assert (values > 0).all() and (np.diff(values, axis=1) > 0).all()  # the sd of a longer move is larger
        assert table[1].iloc[-1] > 2 * table[1].iloc[290]  # the storm is seen
    garch = scale_table(candles, 7, "garch")
    assert garch.loc[candles["ts"].iloc[350]].isna().all()  # the day after the gap has no return
    short = scale_table(candles.iloc[:100], 7, "garch")  # too few returns to fit: the volatility scales stand in
    assert short.attrs["basis"].startswith("volatility (") and short.dropna().shape[0] == 99


def test_band_scales_are_half_widths_in_log_price_floored() -> None:
    scaler = Scaler("standard", (0.0, 0.001), (1.0, 0.03))  # the target's sd: 0.03
    band = np.array([[[-1.0, 1.0], [-2.0, 2.0], [1.0, 0.5]]])  # (N, K, 2); h3 crossed
    np.testing.assert_allclose(band_scales(band, scaler), [[0.03, 0.06, VOLATILITY_FLOOR]])


def test_quantile_basis_with_a_unit_band_is_the_flat_basis() -> None:
    window = make_candles(np.random.default_rng(4).normal(0, 0.03, 200))
    band = pd.DataFrame(np.ones((200, 3)), index=pd.DatetimeIndex(window["ts"]))
    for got, want in zip(
        history_residuals(window, 3, "quantile", band), history_residuals(window, 3, "flat"), strict=True
    ):
        np.testing.assert_allclose(got, want)
    with pytest.raises(ValueError, match="band"):
        history_residuals(window, 3, "quantile")
    assert serving_calibration(pd.DataFrame(), window, ModelConfig(), "quantile", 730) is None
