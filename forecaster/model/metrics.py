"""Forecast accuracy metrics and the Diebold-Mariano test, in plain NumPy (and SciPy's t law).

Every function takes array-likes of equal shape and averages over all their elements.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats


def _pair(actual: ArrayLike, predicted: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a, p = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    if a.shape != p.shape:
        raise ValueError(f"shapes differ: actual {a.shape}, predicted {p.shape}")
    if a.size == 0:
        raise ValueError("no values to score")
    return a, p


def mae(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Mean absolute error."""
    a, p = _pair(actual, predicted)
    return float(np.mean(np.abs(a - p)))


def rmse(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Root mean squared error."""
    a, p = _pair(actual, predicted)
    return float(np.sqrt(np.mean((a - p) ** 2)))


def mape(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Mean absolute percentage error, in percent (``100 * mean(|a - p| / |a|)``)."""
    a, p = _pair(actual, predicted)
    return float(100.0 * np.mean(np.abs(a - p) / np.abs(a)))


def smape(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Symmetric MAPE in percent, ``100 * mean(2|a - p| / (|a| + |p|))`` (0 where both are 0)."""
    a, p = _pair(actual, predicted)
    denominator = np.abs(a) + np.abs(p)
    ratio = np.divide(2.0 * np.abs(a - p), denominator, out=np.zeros_like(a), where=denominator > 0)
    return float(100.0 * np.mean(ratio))


def mase(actual: ArrayLike, predicted: ArrayLike, insample: ArrayLike) -> float:
    """MAE scaled by the in-sample naive one-step MAE, ``mean(|diff(insample)|)``, of the training window."""
    history = np.asarray(insample, dtype=float)
    if history.size < 2:
        raise ValueError("MASE needs at least two in-sample values")
    scale = float(np.mean(np.abs(np.diff(history))))
    if scale == 0.0:
        raise ValueError("MASE is undefined: the in-sample series is constant")
    return mae(actual, predicted) / scale


def directional_accuracy(actual: ArrayLike, predicted: ArrayLike, last_close: ArrayLike) -> float:
    """Share of forecasts whose move from ``last_close`` has the sign of the actual move."""
    a, p = _pair(actual, predicted)
    last = np.broadcast_to(np.asarray(last_close, dtype=float), a.shape)
    return float(np.mean(np.sign(p - last) == np.sign(a - last)))


def coverage(actual: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Share of actual values inside ``[lower, upper]``."""
    a, lo = _pair(actual, lower)
    _, hi = _pair(actual, upper)
    return float(np.mean((a >= lo) & (a <= hi)))


def diebold_mariano(
    errors_a: ArrayLike, errors_b: ArrayLike, h: int = 1, loss: Literal["squared", "absolute"] = "squared"
) -> tuple[float, float]:
    """Diebold-Mariano test of equal accuracy, with the Harvey-Leybourne-Newbold correction.

    ``d = L(e_a) - L(e_b)``; its long-run variance uses autocovariances up to lag ``h - 1``
    (``h``-step forecasts overlap). A negative statistic means ``a`` is more accurate. The
    p-value is two-sided, from Student's t with ``n - 1`` degrees of freedom. Identical losses
    give ``(0.0, 1.0)``.
    """
    a, b = _pair(errors_a, errors_b)
    a, b = a.ravel(), b.ravel()
    d = a**2 - b**2 if loss == "squared" else np.abs(a) - np.abs(b)
    n = d.size
    if n < 2 or h < 1:
        raise ValueError(f"Diebold-Mariano needs n >= 2 and h >= 1 (n={n}, h={h})")
    centred = d - d.mean()
    gammas = [float(np.dot(centred[k:], centred[: n - k]) / n) for k in range(min(h, n))]
    variance = gammas[0] + 2.0 * sum(gammas[1:])
    if variance <= 0.0:
        variance = gammas[0]
    if variance <= 0.0:
        return 0.0, 1.0
    statistic = d.mean() / np.sqrt(variance / n)
    correction = np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    statistic *= correction
    p_value = 2.0 * stats.t.sf(abs(statistic), df=n - 1)
    return float(statistic), float(p_value)
