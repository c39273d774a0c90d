"""The interval arithmetic: conformal quantiles, ACI, and the invariants every interval keeps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from forecaster.model.intervals import (
    ACI_ALPHA_RANGE,
    MIN_CALIBRATION,
    NO_INTERVAL,
    TooFewResiduals,
    aci_alpha,
    apply_intervals,
    calibrate,
)

residual_sets = st.integers(1, 8).flatmap(
    lambda k: st.lists(
        arrays(np.float64, st.integers(MIN_CALIBRATION, 120), elements=st.floats(-3, 3, allow_nan=False)),
        min_size=k,
        max_size=k,
    )
)


@settings(max_examples=200, deadline=None)
@given(residual_sets, st.floats(0.5, 0.95), st.floats(1.0, 1e6), st.floats(0.0, 0.2))
def test_every_interval_contains_its_forecast_and_never_narrows_with_the_horizon(residuals, level, price, vol):
    calibration = calibrate(residuals, level, "validation")
    k = len(residuals)
    assert all(lo <= 0.0 <= hi for lo, hi in zip(calibration.lower, calibration.upper, strict=True))
    yhat = np.full(k, price)
    lower, upper = apply_intervals(yhat, vol * np.sqrt(np.arange(1, k + 1)), calibration.lower, calibration.upper)
    assert np.all(lower <= yhat) and np.all(yhat <= upper)
    assert np.all(np.diff(upper - lower) >= -1e-9 * price)


def test_a_horizon_with_too_few_residuals_gives_no_quantiles():
    rng = np.random.default_rng(0)
    with pytest.raises(TooFewResiduals, match=f"fewer than the {MIN_CALIBRATION}"):
        calibrate([rng.normal(size=100), rng.normal(size=MIN_CALIBRATION - 1)], 0.8, "validation")
    lower, upper = apply_intervals(np.ones(3), np.ones(3), NO_INTERVAL.lower, NO_INTERVAL.upper)
    assert np.isnan(lower).all() and np.isnan(upper).all()
    assert "no interval" in NO_INTERVAL.note()


def test_split_conformal_covers_exchangeable_residuals():
    rng = np.random.default_rng(1)
    calibration = calibrate([rng.standard_t(4, size=2000)], 0.8, "validation")
    fresh = rng.standard_t(4, size=20_000)
    covered = np.mean((fresh >= calibration.lower[0]) & (fresh <= calibration.upper[0]))
    assert 0.78 <= covered <= 0.83


def test_aci_widens_after_misses_and_narrows_after_hits():
    assert aci_alpha(np.zeros(50), 0.8, 0.0) == pytest.approx(0.2)
    assert aci_alpha(np.ones(10), 0.8, 0.01) == pytest.approx(0.2 - 10 * 0.01 * 0.8)  # misses: a higher level
    assert aci_alpha(np.zeros(10), 0.8, 0.01) == pytest.approx(0.2 + 10 * 0.01 * 0.2)  # hits: a lower level
    assert aci_alpha(np.ones(1000), 0.8, 0.05) == ACI_ALPHA_RANGE[0]  # bounded
    assert aci_alpha(np.zeros(1000), 0.8, 0.05) == ACI_ALPHA_RANGE[1]


def test_aci_restores_coverage_when_the_residuals_grow():
    """A calibration set from a calm period, then a storm: ACI's level lifts coverage back toward 80 %."""
    rng = np.random.default_rng(3)
    calm = rng.normal(0.0, 1.0, size=200)
    storm = rng.normal(0.0, 1.6, size=400)
    fixed = calibrate([calm], 0.8, "ledger")
    misses, alpha = [], 0.2
    for value in storm:
        adapted = calibrate([calm], 0.8, "ledger", [alpha])
        misses.append(float(not adapted.lower[0] <= value <= adapted.upper[0]))
        alpha = aci_alpha(np.array(misses), 0.8, 0.01)
    fixed_cover = np.mean((storm >= fixed.lower[0]) & (storm <= fixed.upper[0]))
    adapted_cover = 1.0 - np.mean(misses[200:])
    assert fixed_cover < 0.7 and adapted_cover > fixed_cover + 0.05
