"""Simple reference forecasts with the same output as ``forecast``: naive, drift, moving average.

Each uses the candles of the ``window_days`` days ending at ``as_of`` (the last one must be
``as_of`` itself). Intervals: the empirical quantiles of the past ``h``-step log returns
``log(close[t + h] / close[t])`` in the window (pairs exactly ``h`` calendar days apart, so
gaps never shorten a return), centred on their median and applied multiplicatively to the
point forecast: ``yhat * exp(q_p - median)``. They show the spread of past h-day moves around
the forecast, whatever its point rule.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from forecaster.model.data import cut_window
from forecaster.model.features import ONE_DAY, check_as_of, utc64

MA_DAYS = 7

PointRule = Callable[[pd.DataFrame, int], np.ndarray]


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


BASELINES: dict[str, PointRule] = {"naive": _naive, "drift": _drift, "moving_average": _moving_average}


def baseline_names() -> tuple[str, ...]:
    """Names accepted by ``baseline_forecast``."""
    return tuple(BASELINES)


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


def baseline_forecast(
    name: str,
    candles: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    horizon: int = 7,
    interval_level: float = 0.8,
    window_days: int = 730,
) -> pd.DataFrame:
    """Forecast with baseline ``name``; columns ``horizon, target_ts, yhat, yhat_lower, yhat_upper``."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; known baselines are {list(BASELINES)}")
    as_of = check_as_of(as_of)
    window = cut_window(candles, as_of, window_days)
    if window.empty or window["ts"].iloc[-1] != as_of:
        raise ValueError(f"baseline {name!r} needs the candle of {as_of.date()} itself")
    yhat = BASELINES[name](window, horizon)
    alpha = 1.0 - interval_level
    lower, upper = np.full(horizon, np.nan), np.full(horizon, np.nan)
    calendar = calendar_closes(window)
    for i, h in enumerate(range(1, horizon + 1)):
        returns = hstep_log_returns(calendar, h)
        if returns.size:
            centre = np.median(returns)
            lower[i] = yhat[i] * np.exp(np.quantile(returns, alpha / 2) - centre)
            upper[i] = yhat[i] * np.exp(np.quantile(returns, 1 - alpha / 2) - centre)
    horizons = np.arange(1, horizon + 1)
    return pd.DataFrame(
        {
            "horizon": horizons,
            "target_ts": [as_of + int(h) * ONE_DAY for h in horizons],
            "yhat": yhat,
            "yhat_lower": lower,
            "yhat_upper": upper,
        }
    )
