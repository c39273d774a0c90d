"""The Diebold-Mariano test of equal forecast accuracy, in plain NumPy (and SciPy's t law).

Accuracy figures themselves (MAE, RMSE, MAPE, coverage, direction, interval score) have one
definition, in SQL: the score views of ``forecaster.results.scores``.
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
