"""Conformal prediction intervals per horizon, on the log-price scale, scaled by the day's volatility.

A residual ``log(actual) - log(yhat)`` of a forecast made on day t for horizon h is *normalised* by the
scale ``s_h(t)``: ``volatility(t) * sqrt(h)`` (``volatility.py``) when the model's ``interval_scale`` is
``"volatility"``, 1 when it is ``"flat"``, the half-width of the network's own quantile band in log-price
units when it is ``"quantile"`` (``calibration.band_scales``). A calibration set of normalised residuals
gives, per horizon, a lower and an upper quantile; the interval of a new forecast is ``[yhat * exp(s_h * q_lo[h]),
yhat * exp(s_h * q_hi[h])]``.

Invariants, whatever the calibration set: ``q_lo <= 0 <= q_hi`` (so ``yhat_lower <= yhat <= yhat_upper``),
and in price the interval's log offsets widen with the horizon (each bound is the running extreme of
the offsets up to h). A horizon with fewer than ``MIN_CALIBRATION`` residuals never gives quantiles:
``calibrate`` raises ``TooFewResiduals``, and the caller falls back to another set and says so.

Calibration sets, best first (``Calibration.source``):

- ``ledger``: the model's own scored forecasts of this series and run kind (its track record, live or
  backtest), the newest ``LEDGER_DAYS`` days, once every horizon has ``MIN_LEDGER`` of them. Their misses
  drive adaptive conformal inference (Gibbs and Candès, 2021): the level used moves by ``gamma * (alpha -
  miss)`` after each scored forecast, in target-date order, so coverage that drifts below the nominal level
  widens the next intervals and coverage above it narrows them (``aci_alpha``).
- ``validation``: the validation windows of the fit (held out from training, so out of sample), the
  start-up set of a new series;
- ``history``: the ``h``-day log returns of the training window around their median, the residuals of a
  naive forecast, when gaps leave too few validation windows;
- ``none``: not even those: the forecast has no interval (NULL bounds), and its note says why.

Quantile levels carry the finite-sample split-conformal correction (``ceil((n + 1)(1 - alpha/2)) / n``).
Residuals of overlapping windows are not exchangeable, so coverage is measured by the evaluation, not
assumed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

#: Fewest residuals of one horizon that may calibrate its interval, the model's and the baselines': at 80 %,
#: 30 leave 3 beyond each tail quantile; fewer make the bounds the spread of a handful of days.
MIN_CALIBRATION = 30
#: Fewest scored forecasts per horizon before the track record replaces the validation set.
MIN_LEDGER = 60
#: Days of the track record that calibrate (the newest).
LEDGER_DAYS = 730
#: Bounds of the ACI level, so that a run of misses or hits never gives an empty or an unbounded interval.
ACI_ALPHA_RANGE = (0.02, 0.6)

Source = Literal["ledger", "validation", "history", "none"]


class TooFewResiduals(ValueError):
    """A horizon of a calibration set has fewer than ``MIN_CALIBRATION`` residuals."""


@dataclass(frozen=True)
class Calibration:
    """Quantiles of normalised residuals per horizon (``lower <= 0 <= upper``), where they came from,
    how many residuals each horizon had, and the miscoverage level each used (after ACI)."""

    lower: tuple[float, ...]
    upper: tuple[float, ...]
    source: Source
    n: tuple[int, ...]
    alpha: tuple[float, ...]

    def note(self) -> str:
        if self.source == "none":
            return f"no interval: fewer than {MIN_CALIBRATION} residuals in every calibration set"
        alphas = ", ".join(f"{a:.3f}" for a in self.alpha)
        return f"intervals calibrated on {self.source} residuals (n {min(self.n)}..{max(self.n)}, alpha {alphas})"


def conformal_pair(residuals: np.ndarray, alpha: float) -> tuple[float, float]:
    """Lower and upper split-conformal quantiles of one horizon's residuals, at miscoverage ``alpha``,
    clipped to ``lower <= 0 <= upper``."""
    n = len(residuals)
    if n < MIN_CALIBRATION:
        raise TooFewResiduals(f"{n} residuals, fewer than the {MIN_CALIBRATION} an interval needs")
    q_hi = min(1.0, math.ceil((n + 1) * (1.0 - alpha / 2)) / n)
    q_lo = max(0.0, math.floor((n + 1) * (alpha / 2)) / n)
    upper = float(np.quantile(residuals, q_hi, method="higher"))
    lower = float(np.quantile(residuals, q_lo, method="lower"))
    return min(lower, 0.0), max(upper, 0.0)


def calibrate(
    residuals: list[np.ndarray], level: float, source: Source, alphas: list[float] | None = None
) -> Calibration:
    """Quantiles per horizon from ``residuals[h - 1]`` (normalised, NaN-free), at ``alphas`` (default: ``1 - level``).

    Raises ``TooFewResiduals`` when a horizon has fewer than ``MIN_CALIBRATION``.
    """
    alphas = alphas or [1.0 - level] * len(residuals)
    pairs = [conformal_pair(r, a) for r, a in zip(residuals, alphas, strict=True)]
    return Calibration(
        lower=tuple(p[0] for p in pairs),
        upper=tuple(p[1] for p in pairs),
        source=source,
        n=tuple(len(r) for r in residuals),
        alpha=tuple(float(a) for a in alphas),
    )


def by_horizon(residuals: np.ndarray) -> list[np.ndarray]:
    """The finite residuals of each column of ``residuals`` (N, K)."""
    return [column[np.isfinite(column)] for column in residuals.T]


def aci_alpha(misses: np.ndarray, level: float, gamma: float) -> float:
    """The miscoverage level after adaptive conformal inference over ``misses`` (1: the actual fell outside
    the interval issued, 0: inside), oldest first: ``alpha <- alpha + gamma * (alpha_nominal - miss)``,
    kept within ``ACI_ALPHA_RANGE``. ``gamma = 0``: the nominal level."""
    nominal = 1.0 - level
    alpha = nominal
    low, high = ACI_ALPHA_RANGE
    for miss in misses:
        alpha = min(max(alpha + gamma * (nominal - float(miss)), low), high)
    return alpha


NO_INTERVAL = Calibration(lower=(), upper=(), source="none", n=(), alpha=())


def apply_intervals(
    yhat: np.ndarray, scales: np.ndarray, lower: tuple[float, ...], upper: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Price bounds (K,) for point forecasts ``yhat`` (K,) and residual scales ``scales`` (K,); NaN without
    quantiles (``NO_INTERVAL``).

    The log offsets are made monotone in h (each the running extreme up to h), so an interval never
    narrows with the horizon, and always contain 0, so it always contains ``yhat``.
    """
    if not lower:
        return np.full(len(yhat), np.nan), np.full(len(yhat), np.nan)
    low = np.minimum.accumulate(np.minimum(np.asarray(scales) * np.asarray(lower), 0.0))
    high = np.maximum.accumulate(np.maximum(np.asarray(scales) * np.asarray(upper), 0.0))
    return yhat * np.exp(low), yhat * np.exp(high)
