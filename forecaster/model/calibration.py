"""The residual sets that calibrate the model's intervals (``intervals.py``), built from data.

Every residual is normalised by its forecast day's scale (``residual_scales``) so that sets from calm and
stormy days can be pooled; ``intervals.apply_intervals`` multiplies the quantiles back by the day of the
new forecast's scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.model.baselines import calendar_closes
from forecaster.model.intervals import (
    MIN_LEDGER,
    NO_INTERVAL,
    Calibration,
    TooFewResiduals,
    aci_alpha,
    by_horizon,
    calibrate,
)
from forecaster.model.volatility import daily_volatility, horizon_scales


def residual_scales(volatility: pd.Series, days: pd.DatetimeIndex, horizon: int, basis: str) -> np.ndarray:
    """Scales (N, K) of forecasts made on ``days``: volatility x sqrt(h) (``basis`` "volatility") or 1 ("flat").

    NaN where the volatility of a day is unknown (its residuals drop out).
    """
    if basis == "flat":
        return np.ones((len(days), horizon))
    vol = volatility.reindex(days).to_numpy(dtype=float)
    return vol[:, None] * np.sqrt(np.arange(1, horizon + 1, dtype=float))[None, :]


def forecast_scales(candles: pd.DataFrame, horizon: int, basis: str) -> np.ndarray:
    """Scales (K,) of a forecast made on the last candle's day."""
    if basis == "flat":
        return np.ones(horizon)
    return horizon_scales(float(daily_volatility(candles).iloc[-1]), horizon)


def history_residuals(window: pd.DataFrame, horizon: int, basis: str) -> list[np.ndarray]:
    """Normalised h-day log returns of ``window`` around their median, per horizon: a naive forecast's
    residuals, the fallback when too few validation windows exist."""
    calendar = calendar_closes(window)
    days = pd.date_range(window["ts"].iloc[0], periods=len(calendar), freq="D")
    volatility = daily_volatility(window)
    log_close = np.log(calendar)
    sets = []
    for h in range(1, horizon + 1):
        moves = log_close[h:] - log_close[:-h]
        scale = residual_scales(volatility, days[:-h], h, basis)[:, -1]
        normalised = moves / scale
        normalised = normalised[np.isfinite(normalised)]
        sets.append(normalised - np.median(normalised) if normalised.size else normalised)
    return sets


def start_up_calibration(
    log_residuals: np.ndarray, anchor_days: pd.DatetimeIndex, window: pd.DataFrame, level: float, basis: str
) -> Calibration:
    """Quantiles from the validation windows' residuals (N, K), or, where a horizon has too few, from the
    window's history, or none (``Calibration.source`` says which)."""
    horizon = log_residuals.shape[1]
    scales = residual_scales(daily_volatility(window), anchor_days, horizon, basis)
    try:
        return calibrate(by_horizon(log_residuals / scales), level, "validation")
    except TooFewResiduals:
        pass
    try:
        return calibrate(history_residuals(window, horizon, basis), level, "history")
    except TooFewResiduals:
        return NO_INTERVAL


def ledger_calibration(
    record: pd.DataFrame, candles: pd.DataFrame, horizon: int, level: float, basis: str, gamma: float
) -> Calibration | None:
    """Quantiles from the model's track record, or ``None`` while a horizon has fewer than ``MIN_LEDGER``.

    ``record``: scored forecasts (``as_of``, ``horizon``, ``yhat``, ``yhat_lower``, ``yhat_upper``,
    ``actual``) in target-date order (``results.ledger.track_record``); ``candles``: the series up to the new
    forecast's day, for the volatility of each forecast day. Each horizon's level is adapted by ACI over the
    misses of the intervals that were issued.
    """
    volatility = daily_volatility(candles)
    residuals, alphas = [], []
    for h in range(1, horizon + 1):
        rows = record.loc[record["horizon"] == h]
        days = pd.DatetimeIndex(rows["as_of"])
        scale = residual_scales(volatility, days, h, basis)[:, -1]
        normalised = np.log(rows["actual"].to_numpy(dtype=float) / rows["yhat"].to_numpy(dtype=float)) / scale
        normalised = normalised[np.isfinite(normalised)]
        if len(normalised) < MIN_LEDGER:
            return None
        issued = rows.dropna(subset=["yhat_lower", "yhat_upper"])
        misses = ~issued["actual"].between(issued["yhat_lower"], issued["yhat_upper"])
        residuals.append(normalised)
        alphas.append(aci_alpha(misses.to_numpy(dtype=float), level, gamma))
    return calibrate(residuals, level, "ledger", alphas)
