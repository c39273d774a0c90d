"""Split-conformal prediction intervals per horizon, on the log-price scale.

Residuals ``log(actual) - log(yhat)`` of the validation windows (held out from training, so
out-of-sample) give, per horizon h, a lower and an upper quantile; the interval of a new
forecast is ``[yhat * exp(q_lo[h]), yhat * exp(q_hi[h])]``. The quantile levels carry the
finite-sample split-conformal correction (``ceil((n + 1)(1 - alpha/2)) / n``). Validation
windows overlap, so exchangeability holds only approximately; coverage is measured by the
evaluation, not assumed.
"""

from __future__ import annotations

import math

import numpy as np


def conformal_quantiles(log_residuals: np.ndarray, level: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Lower and upper residual quantiles per horizon from ``log_residuals`` (N, K)."""
    n = len(log_residuals)
    if n == 0:
        raise ValueError("conformal intervals need at least one validation residual")
    alpha = 1.0 - level
    q_hi = min(1.0, math.ceil((n + 1) * (1.0 - alpha / 2)) / n)
    q_lo = max(0.0, math.floor((n + 1) * (alpha / 2)) / n)
    upper = np.quantile(log_residuals, q_hi, axis=0, method="higher")
    lower = np.quantile(log_residuals, q_lo, axis=0, method="lower")
    return tuple(float(v) for v in lower), tuple(float(v) for v in upper)


def apply_intervals(
    yhat: np.ndarray, lower: tuple[float, ...], upper: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Price bounds (K,) for point forecasts ``yhat`` (K,)."""
    return yhat * np.exp(np.asarray(lower)), yhat * np.exp(np.asarray(upper))
