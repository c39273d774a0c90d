"""Shrinkage toward naive: how much of each predicted return step to keep, fitted on validation windows."""

from __future__ import annotations

import numpy as np


def shrink_factors(predicted: np.ndarray, actual: np.ndarray) -> tuple[float, ...]:
    """Per step k, how much of the predicted daily log return to keep: a factor in [0, 1].

    The least-squares slope ``b = sum(p*y) / sum(p*p)`` of ``actual ~ b * predicted`` (no
    intercept: 0 is naive persistence), multiplied by the positive-part Stein factor
    ``max(0, 1 - 1/t^2)`` with ``t = b / se(b)``, then clipped to [0, 1]. The correction matters:
    on 80-odd validation days the plain slope of a network that has found nothing is mostly noise
    (and drift), and lands anywhere in [0, 1]; the corrected one goes to 0 unless the slope is
    clearly non-zero (|t| of 3 keeps 89 % of it). ``predicted``/``actual``: (N, K) daily log
    returns; a step with all-zero predictions, or fewer than 3 windows, gets 0.
    """
    if predicted.shape != actual.shape or predicted.ndim != 2 or len(predicted) == 0:
        raise ValueError(f"shrink factors need equal non-empty (N, K) arrays, got {predicted.shape}, {actual.shape}")
    n = len(predicted)
    cross = np.sum(predicted * actual, axis=0)
    power = np.sum(predicted * predicted, axis=0)
    usable = (power > 0) & (n >= 3)
    slope = np.divide(cross, power, out=np.zeros_like(cross), where=usable)
    residual_var = np.sum((actual - slope * predicted) ** 2, axis=0) / max(n - 1, 1)
    slope_var = np.divide(residual_var, power, out=np.zeros_like(cross), where=usable)
    t_squared = np.divide(slope**2, slope_var, out=np.full_like(cross, np.inf), where=slope_var > 0)
    stein = np.clip(1.0 - np.divide(1.0, t_squared, out=np.zeros_like(cross), where=t_squared > 0), 0.0, 1.0)
    return tuple(float(v) for v in np.clip(np.where(usable, slope * stein, 0.0), 0.0, 1.0))
