"""The ``garch`` baseline's intervals: a GARCH(1,1) with Student-t innovations and zero mean.

The fit: ``arch_model(100 * r, mean="Zero", vol="GARCH", p=1, q=1, dist="t")`` (the ``arch`` package), ``r``
the daily log returns of the baseline window (``window_days`` ending at the as-of day), between consecutive
calendar days only: a missing day drops its two returns, and the returns either side of the gap are then
treated as adjacent. Fewer than ``MIN_RETURNS`` returns, a flat series, a fit that does not converge or a
degenerate one (parameters or variance forecasts that are not finite and positive) raise ``GarchFitError``;
the baseline then falls back to the empirical intervals (``forecaster.model.baselines``) and says so.

The point forecast is naive's (the as-of close: the mean is zero). For horizon ``h`` the log return
``R_h = r_1 + .. + r_h`` has variance ``s_h^2 = sigma_1^2 + .. + sigma_h^2``, the 1..h-day-ahead conditional
variances of the fit's analytic forecast (the returns are uncorrelated). The interval's log offsets are
``q_p * s_h`` with ``q_p`` the quantile of the *standardized* Student-t (unit variance) of the fitted ``nu``,
at ``p = (1 - level) / 2`` and ``(1 + level) / 2``, applied as ``yhat * exp(q_p * s_h)``.

Approximation: ``R_h`` is taken to be a t with the same ``nu``. A sum of t innovations is not a t: it is
closer to normal as ``h`` grows. At central levels the standardized t's quantiles lie inside the normal's
(at ``nu = 4`` the 90 % quantile is 1.08 sd against 1.28), so for ``h > 1`` an 80 % interval is somewhat
narrower than the exact one (at most by that ratio, 0.85 at ``nu = 4``, as ``h`` grows); far in the tails
(levels above about 95 %) it is wider. At ``h = 1`` the interval is exact for the fitted model. Walk-forward
on BTC, ETH and SOL over 2025-03-31..2026-03-30 the 80 % interval covered 80.6 % at h1 and 79.2 % at h7
(``docs/backtest.md``, "GARCH baseline").

Cadence: every forecast refits. One fit on the 730 days of BTC/USDT to 2026-03-30 (729 returns) costs 30 ms
of CPU on the project's 2-core machine: 26-30 ms wall (median of 10) when the machine was quiet, 43-57 ms
while other engineers' tests ran on it. Over the 1077 walk-forward forecasts of BTC, ETH and SOL
2025-03-31..2026-03-30, a whole garch forecast (window, fit, variance forecast) took 36-39 ms of CPU at the
median and 58-68 ms at the 90th percentile, with no fallback (``python -m benchmarks.baseline_intervals``).
That is under the 50 ms above which a weekly refit would have been worth its machinery, and a weekly
cadence would save nothing in the daily job anyway: each run forecasts one day per series, often in a fresh
process, so an in-process cache of the anchor day's parameters would rarely hit, and a miss refits the
anchor's window at the same cost. So nothing is cached and nothing is kept between calls: the interval
depends only on the window's candles, in any process.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from arch import arch_model
from scipy import stats

# Fewer daily returns than this: no fit (the baseline falls back). A year of returns: fewer leave the
# persistence and the tail index poorly identified.
MIN_RETURNS = 250
# arch fits percent returns (its optimizer is tuned for variances near 1..100).
SCALE = 100.0
# Daily log returns with a standard deviation below this (0.0001 %) do not vary (a flat series, or a
# constant trend): nothing to fit.
FLAT_SD = 1e-6


class GarchFitError(ValueError):
    """The GARCH fit is impossible (too few returns, a flat series), did not converge, or is degenerate."""


@dataclass(frozen=True)
class GarchFit:
    """A fitted GARCH(1,1)-t: its parameters (on percent returns) and its forecast of the next days' variances."""

    omega: float
    alpha: float
    beta: float
    nu: float
    variances: np.ndarray  # the 1..H-day-ahead conditional variances of the daily log return (log units squared)


def fit_garch(returns: np.ndarray, horizon: int) -> GarchFit:
    """Fit the model on ``returns`` (daily log returns, oldest first) and forecast ``horizon`` days of variance.

    Raises:
        GarchFitError: too few returns, a flat series, no convergence, or a degenerate fit.
    """
    returns = np.asarray(returns, dtype=float)
    if returns.size < MIN_RETURNS:
        raise GarchFitError(f"{returns.size} daily returns, a GARCH fit needs {MIN_RETURNS}")
    if not np.isfinite(returns).all():
        raise ValueError("fit_garch takes finite returns")
    if float(np.std(returns)) < FLAT_SD:
        raise GarchFitError(f"the daily returns do not vary (sd below {FLAT_SD:g}), nothing to fit")
    model = arch_model(SCALE * returns, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    # show_warning=False: no ConvergenceWarning (convergence_flag says it instead), but arch then adds a
    # global "ignore ConvergenceWarning" filter; catch_warnings puts the caller's filters back afterwards.
    # Like any catch_warnings before Python 3.14 it is not thread-safe: fits in concurrent threads (series
    # forecast side by side) may restore each other's saved filters out of order, the likeliest leftover
    # being arch's one "ignore ConvergenceWarning" filter, which silences a warning no fit here emits.
    with warnings.catch_warnings():
        result = model.fit(disp="off", show_warning=False)
    if result.convergence_flag != 0:
        raise GarchFitError(f"GARCH fit did not converge ({result.optimization_result.message})")
    omega, alpha, beta, nu = (float(result.params[name]) for name in ("omega", "alpha[1]", "beta[1]", "nu"))
    variances = result.forecast(horizon=horizon, reindex=False).variance.to_numpy(dtype=float)[-1] / SCALE**2
    finite = np.isfinite([omega, alpha, beta, nu]).all() and np.isfinite(variances).all()
    if not (finite and nu > 2.0 and (variances > 0.0).all()):
        raise GarchFitError(
            f"degenerate GARCH fit (omega {omega:.3g}, alpha {alpha:.3g}, beta {beta:.3g}, nu {nu:.3g})"
        )
    return GarchFit(omega, alpha, beta, nu, variances)


def standardized_t_quantile(p: float | np.ndarray, nu: float) -> np.ndarray:
    """Quantiles of Student's t with ``nu`` > 2 degrees of freedom scaled to unit variance."""
    return np.asarray(stats.t.ppf(p, nu) * np.sqrt((nu - 2.0) / nu), dtype=float)


def garch_log_bounds(returns: np.ndarray, horizon: int, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Log offsets ``(lower, upper)`` of the ``level`` interval for horizons 1..``horizon``, from the point
    forecast (see the module docstring).

    Raises:
        GarchFitError: as ``fit_garch``, or when an offset is too large to apply (``exp`` overflows).
    """
    fit = fit_garch(returns, horizon)
    sd = np.sqrt(np.cumsum(fit.variances))
    low, high = standardized_t_quantile(np.array([(1.0 - level) / 2.0, (1.0 + level) / 2.0]), fit.nu)
    lower, upper = low * sd, high * sd
    with np.errstate(over="ignore"):
        applicable = np.isfinite(np.exp(upper)).all()
    if not applicable:
        raise GarchFitError(f"degenerate GARCH fit (a {horizon}-day sd of {sd[-1]:.3g} in log units)")
    return lower, upper


def horizon_sd_table(log_returns: np.ndarray, horizon: int) -> np.ndarray:
    """For each day of ``log_returns`` (daily, oldest first), the sd of the 1..``horizon``-day log return
    ahead of it under a GARCH(1,1)-t fitted on all of them: (N, horizon), in log units.

    The in-sample one-day-ahead variance follows the fitted recursion ``v = omega + alpha r^2 + beta v``
    (started at the returns' mean square, as arch's backcast does in effect), and the k-day-ahead ones the
    forecast recursion ``v_{k+1} = omega + (alpha + beta) v_k``; the h-day sd is the root of their sum. It is
    the scale of the model's intervals under ``interval_scale = "garch"`` (``calibration.scale_table``).

    Raises:
        GarchFitError: as ``fit_garch``.
    """
    fit = fit_garch(log_returns, horizon)
    percent = SCALE * np.asarray(log_returns, dtype=float)
    ahead = np.empty(len(percent))
    variance = float(np.mean(percent**2))
    for t, value in enumerate(percent):
        variance = fit.omega + fit.alpha * value**2 + fit.beta * variance
        ahead[t] = variance  # the variance of the day after return t
    paths = np.empty((len(percent), horizon))
    step = ahead
    for k in range(horizon):
        paths[:, k] = step
        step = fit.omega + (fit.alpha + fit.beta) * step
    return np.sqrt(np.cumsum(paths, axis=1)) / SCALE
