"""Simple reference forecasts with the same output as ``forecast``: naive, drift, moving average, GARCH.

Each uses the candles of the ``window_days`` days ending at ``as_of`` (the last one must be
``as_of`` itself). A baseline is a point rule and an interval rule; the interval rule gives, per
horizon, log offsets from the point forecast, applied multiplicatively: ``yhat * exp(offset)``.

**Empirical intervals** (naive, drift, moving average): the empirical quantiles of the past
``h``-step log returns ``log(close[t + h] / close[t])`` in the window (pairs exactly ``h`` calendar
days apart, so gaps never shorten a return), centred on their median: ``yhat * exp(q_p - median)``.
They show the spread of past h-day moves around the forecast, whatever its point rule. Quantiles
are never taken from fewer than ``MIN_CALIBRATION`` returns: with fewer h-day returns, the 1-day
returns' centred quantiles times ``sqrt(h)`` stand in (when there are at least ``MIN_CALIBRATION``
of those), else there is no interval (NaN bounds).

**garch** brings its own intervals, from a GARCH(1,1)-t fitted on the window's daily log returns
(``forecaster.model.garch``), around naive's point; when the fit fails or is degenerate it takes the
empirical intervals above.

For every baseline ``yhat_lower <= yhat <= yhat_upper``, and the interval never narrows as the
horizon grows: its log offsets are clipped to ``lower <= 0 <= upper`` and made a running envelope
over the horizons (lower: running minimum, upper: running maximum). The empirical quantiles alone
do not ensure it: few h-day returns, or a mean-reverting stretch of the window (where 2-day moves
are smaller than 1-day ones), can narrow a longer horizon's interval, and taking every horizon's
returns from the same start days would not change that. A price further out is at least as
uncertain as a nearer one for every one of these point rules, so the envelope is what they mean.
An interval needs a positive point forecast: where drift's line reaches 0 (a fall of more than
about 99 % within the window) its bounds are NaN.

Every fallback is said: the frame of ``baseline_forecast`` carries ``attrs["notes"]``, a list of
short strings such as ``"naive: fewer than 30 h-day returns, 1-day quantiles x sqrt(h) used for h 5..7"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster.model.data import cut_window
from forecaster.model.features import ONE_DAY, check_as_of, utc64
from forecaster.model.garch import GarchFitError, garch_log_bounds
from forecaster.model.intervals import MIN_CALIBRATION

MA_DAYS = 7


@dataclass(frozen=True)
class LogBounds:
    """Per horizon 1..H, the log offsets of an interval's bounds from the point forecast (NaN: no
    interval), and notes on the fallbacks taken (without the baseline's name)."""

    lower: np.ndarray
    upper: np.ndarray
    notes: tuple[str, ...] = ()


PointRule = Callable[[pd.DataFrame, int], np.ndarray]
# (calendar closes of the window, horizon, level) -> log offsets
IntervalRule = Callable[[np.ndarray, int, float], LogBounds]


def _naive(window: pd.DataFrame, horizon: int) -> np.ndarray:
    return np.full(horizon, float(window["close"].iloc[-1]))


def _drift(window: pd.DataFrame, horizon: int) -> np.ndarray:
    first, last = float(window["close"].iloc[0]), float(window["close"].iloc[-1])
    days = (window["ts"].iloc[-1] - window["ts"].iloc[0]) / ONE_DAY
    slope = (last - first) / days if days > 0 else 0.0
    return last + slope * np.arange(1, horizon + 1)


def _moving_average(window: pd.DataFrame, horizon: int) -> np.ndarray:
    recent = window.loc[window["ts"] > window["ts"].iloc[-1] - MA_DAYS * ONE_DAY, "close"]
    return np.full(horizon, float(recent.mean()))


def calendar_closes(window: pd.DataFrame) -> np.ndarray:
    """The window's closes, one slot per calendar day from its first candle, NaN where a candle is missing."""
    ts = utc64(window["ts"])
    calendar = np.full(int((ts[-1] - ts[0]) // np.timedelta64(1, "D")) + 1, np.nan)
    calendar[(ts - ts[0]) // np.timedelta64(1, "D")] = window["close"].to_numpy(dtype=float)
    return calendar


def hstep_log_returns(calendar: np.ndarray, h: int) -> np.ndarray:
    """``log(close[t + h] / close[t])`` for every pair of candles exactly ``h`` days apart, from
    ``calendar_closes``."""
    returns = np.log(calendar[h:] / calendar[: max(len(calendar) - h, 0)])
    return returns[np.isfinite(returns)]


def empirical_bounds(calendar: np.ndarray, horizon: int, level: float) -> LogBounds:
    """The empirical intervals of the module docstring, before the envelope."""
    tails = np.array([(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    offsets = np.full((horizon, 2), np.nan)
    daily = hstep_log_returns(calendar, 1)
    scaled, missing = [], []
    for h in range(1, horizon + 1):
        returns = daily if h == 1 else hstep_log_returns(calendar, h)
        if returns.size >= MIN_CALIBRATION:
            offsets[h - 1] = np.quantile(returns, tails) - np.median(returns)
        elif daily.size >= MIN_CALIBRATION:
            offsets[h - 1] = np.sqrt(h) * (np.quantile(daily, tails) - np.median(daily))
            scaled.append(h)
        else:
            missing.append(h)
    notes = []
    if scaled:
        notes.append(
            f"fewer than {MIN_CALIBRATION} h-day returns, 1-day quantiles x sqrt(h) used for h {spans(scaled)}"
        )
    if missing:
        notes.append(
            f"fewer than {MIN_CALIBRATION} h-day and 1-day returns ({daily.size} 1-day), "
            f"no interval for h {spans(missing)}"
        )
    return LogBounds(offsets[:, 0], offsets[:, 1], tuple(notes))


def _garch_bounds(calendar: np.ndarray, horizon: int, level: float) -> LogBounds:
    """GARCH(1,1)-t intervals; the empirical ones, with a note, when the fit fails or is degenerate."""
    try:
        lower, upper = garch_log_bounds(hstep_log_returns(calendar, 1), horizon, level)
    except GarchFitError as exc:
        fallback = empirical_bounds(calendar, horizon, level)
        return LogBounds(fallback.lower, fallback.upper, (f"{exc}: empirical intervals used", *fallback.notes))
    return LogBounds(lower, upper)


@dataclass(frozen=True)
class Baseline:
    """A baseline: its point rule and its interval rule (by default the empirical h-day return quantiles)."""

    point: PointRule
    interval: IntervalRule = empirical_bounds


BASELINES: dict[str, Baseline] = {
    "naive": Baseline(_naive),
    "drift": Baseline(_drift),
    "moving_average": Baseline(_moving_average),
    "garch": Baseline(_naive, _garch_bounds),
}


def baseline_names() -> tuple[str, ...]:
    """Names accepted by ``baseline_forecast``."""
    return tuple(BASELINES)


def spans(horizons: Sequence[int]) -> str:
    """Horizons as runs: ``[1, 2, 3, 5]`` -> ``"1..3, 5"``."""
    runs: list[list[int]] = []
    for h in horizons:
        if runs and h == runs[-1][-1] + 1:
            runs[-1].append(h)
        else:
            runs.append([h])
    return ", ".join(f"{run[0]}..{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)


def envelope(bounds: LogBounds) -> tuple[np.ndarray, np.ndarray]:
    """Offsets clipped to ``lower <= 0 <= upper`` and widened to a running envelope over the horizons that
    have an interval; NaN (both bounds) where a horizon has none."""
    has = np.isfinite(bounds.lower) & np.isfinite(bounds.upper)
    lower = np.fmin.accumulate(np.where(has, np.minimum(bounds.lower, 0.0), np.nan))
    upper = np.fmax.accumulate(np.where(has, np.maximum(bounds.upper, 0.0), np.nan))
    return np.where(has, lower, np.nan), np.where(has, upper, np.nan)


def baseline_forecast(
    name: str,
    candles: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    horizon: int = 7,
    interval_level: float = 0.8,
    window_days: int = 730,
) -> pd.DataFrame:
    """Forecast with baseline ``name``; columns ``horizon, target_ts, yhat, yhat_lower, yhat_upper``.

    ``attrs["notes"]`` lists the fallbacks taken, each prefixed with ``name`` (empty: none).
    """
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; known baselines are {list(BASELINES)}")
    as_of = check_as_of(as_of)
    window = cut_window(candles, as_of, window_days)
    if window.empty or window["ts"].iloc[-1] != as_of:
        raise ValueError(f"baseline {name!r} needs the candle of {as_of.date()} itself")
    baseline = BASELINES[name]
    yhat = baseline.point(window, horizon)
    bounds = baseline.interval(calendar_closes(window), horizon, interval_level)
    lower, upper = envelope(bounds)
    notes = list(bounds.notes)
    unpriced = np.isfinite(lower) & ~(yhat > 0)
    if unpriced.any():
        notes.append(f"point forecast not above 0, no interval for h {spans((np.flatnonzero(unpriced) + 1).tolist())}")
        lower[unpriced] = upper[unpriced] = np.nan
    horizons = np.arange(1, horizon + 1)
    frame = pd.DataFrame(
        {
            "horizon": horizons,
            "target_ts": [as_of + int(h) * ONE_DAY for h in horizons],
            "yhat": yhat,
            "yhat_lower": yhat * np.exp(lower),
            "yhat_upper": yhat * np.exp(upper),
        }
    )
    frame.attrs["notes"] = [f"{name}: {note}" for note in notes]
    return frame
