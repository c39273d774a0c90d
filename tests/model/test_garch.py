from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from arch.utility.exceptions import ConvergenceWarning

from forecaster.model import garch
from forecaster.model.baselines import baseline_forecast
from forecaster.model.garch import MIN_RETURNS, GarchFitError, fit_garch, garch_log_bounds, standardized_t_quantile
from tests.support.candles import make_candles

# A GARCH(1,1)-t on percent returns: unconditional variance omega / (1 - alpha - beta) = 1, i.e. 1 % a day.
OMEGA, ALPHA, BETA, NU = 0.05, 0.10, 0.85, 5.0


def simulate(n: int, seed: int) -> np.ndarray:
    """``n`` daily log returns of the GARCH(1,1)-t above (after a burn-in of 500 days)."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(NU, n + 500) * np.sqrt((NU - 2.0) / NU)
    returns, variance = np.empty(n + 500), OMEGA / (1.0 - ALPHA - BETA)
    for t, shock in enumerate(shocks):
        returns[t] = np.sqrt(variance) * shock
        variance = OMEGA + ALPHA * returns[t] ** 2 + BETA * variance
    return returns[500:] / 100.0


def test_the_fit_recovers_the_simulated_parameters() -> None:
    fit = fit_garch(simulate(3000, seed=2), horizon=7)
    assert fit.alpha == pytest.approx(ALPHA, abs=0.05) and fit.beta == pytest.approx(BETA, abs=0.07)
    assert 3.5 < fit.nu < 9.0
    # the variance forecast reverts toward the unconditional 1e-4 (1 % a day)
    assert fit.variances.shape == (7,) and np.all(fit.variances > 0)
    assert abs(fit.variances[-1] - 1e-4) < abs(fit.variances[0] - 1e-4)


def test_the_bounds_are_the_standardized_t_times_the_summed_variances() -> None:
    returns = simulate(730, seed=5)
    fit = fit_garch(returns, horizon=3)
    lower, upper = garch_log_bounds(returns, horizon=3, level=0.8)
    sd = np.sqrt(np.cumsum(fit.variances))
    np.testing.assert_allclose(upper, standardized_t_quantile(0.9, fit.nu) * sd)
    np.testing.assert_allclose(lower, -upper)
    # unit variance: the standardized t's sd is 1 whatever nu
    draws = standardized_t_quantile(np.linspace(0.0005, 0.9995, 2000), 6.0)
    assert np.std(draws) == pytest.approx(1.0, abs=0.05)


def test_coverage_of_the_80_percent_interval_on_a_simulated_path() -> None:
    window, step, days = 300, 3, 120  # 120 as-of days 3 days apart, each a fit on its 300 past returns
    returns = simulate(window + step * days + 7, seed=1)
    inside_1, inside_7 = [], []
    for i in range(days):
        end = window + step * i
        lower, upper = garch_log_bounds(returns[end - window : end], horizon=7, level=0.8)
        inside_1.append(lower[0] <= returns[end] <= upper[0])
        inside_7.append(lower[6] <= returns[end : end + 7].sum() <= upper[6])
    assert 0.72 <= np.mean(inside_1) <= 0.88
    # the 7-day sum is taken as a t (slightly narrow at 80 %), and its outcomes overlap: a looser band
    assert 0.65 <= np.mean(inside_7) <= 0.92


def test_a_storm_widens_the_garch_interval_beyond_the_empirical_one() -> None:
    rng = np.random.default_rng(7)
    candles = make_candles(np.concatenate([rng.normal(0.0, 0.01, 700), rng.normal(0.0, 0.05, 30)]))
    as_of = candles["ts"].iloc[-1]
    ours = baseline_forecast("garch", candles, as_of, horizon=7)
    naive = baseline_forecast("naive", candles, as_of, horizon=7)
    assert ours.attrs["notes"] == [] and (ours["yhat"] == naive["yhat"]).all()
    width = ours["yhat_upper"] - ours["yhat_lower"]
    assert (width > 1.5 * (naive["yhat_upper"] - naive["yhat_lower"])).all()
    assert (np.diff(width) > 0).all()


def test_a_flat_series_falls_back_and_says_so() -> None:
    with pytest.raises(GarchFitError, match="do not vary"):
        fit_garch(np.zeros(400), horizon=7)
    candles = make_candles(np.zeros(400))
    frame = baseline_forecast("garch", candles, candles["ts"].iloc[-1], horizon=3)
    assert (frame["yhat_lower"] == frame["yhat"]).all() and (frame["yhat_upper"] == frame["yhat"]).all()
    assert frame.attrs["notes"] == [
        "garch: the daily returns do not vary (sd below 1e-06), nothing to fit: empirical intervals used"
    ]


def test_too_few_returns_take_naive_intervals() -> None:
    candles = make_candles(np.random.default_rng(0).normal(0.0, 0.02, 200))
    as_of = candles["ts"].iloc[-1]
    frame = baseline_forecast("garch", candles, as_of, horizon=7)
    pd.testing.assert_frame_equal(frame, baseline_forecast("naive", candles, as_of, horizon=7))
    assert frame.attrs["notes"] == [
        f"garch: 199 daily returns, a GARCH fit needs {MIN_RETURNS}: empirical intervals used"
    ]


def test_no_convergence_falls_back_without_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    real = garch.arch_model

    def starved(*args: object, **kwargs: object) -> object:  # the real model, allowed one iteration
        model = real(*args, **kwargs)
        fit = model.fit
        monkeypatch.setattr(model, "fit", lambda **options: fit(**options, options={"maxiter": 1}))
        return model

    monkeypatch.setattr(garch, "arch_model", starved)
    candles = make_candles(simulate(730, seed=3))
    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = baseline_forecast("garch", candles, candles["ts"].iloc[-1], horizon=3)
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert warnings.filters == filters  # arch's own global filter did not outlive the fit
    assert len(frame.attrs["notes"]) == 1
    assert frame.attrs["notes"][0].startswith("garch: GARCH fit did not converge (")
    assert frame.attrs["notes"][0].endswith("): empirical intervals used")
    assert frame[["yhat_lower", "yhat_upper"]].notna().all().all()


def test_deterministic_and_blind_to_later_candles() -> None:
    candles = make_candles(simulate(800, seed=4))
    as_of = candles["ts"].iloc[749]
    first = baseline_forecast("garch", candles, as_of)
    changed = candles.copy()
    changed.loc[750:, "close"] *= 3.0
    pd.testing.assert_frame_equal(first, baseline_forecast("garch", changed, as_of))
    pd.testing.assert_frame_equal(first, baseline_forecast("garch", candles.iloc[:750], as_of))
