"""The residual sets that calibrate the model's intervals (``intervals.py``), built from data.

Every residual is normalised by its forecast day's scale (``residual_scales``) so that sets from calm and
stormy days can be pooled; ``intervals.apply_intervals`` multiplies the quantiles back by the day of the
new forecast's scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.model.baselines import calendar_closes
from forecaster.model.config import ModelConfig
from forecaster.model.data import cut_window
from forecaster.model.garch import GarchFitError, horizon_sd_table
from forecaster.model.intervals import (
    MIN_LEDGER,
    NO_INTERVAL,
    Calibration,
    TooFewResiduals,
    aci_alpha,
    by_horizon,
    calibrate,
)
from forecaster.model.scaling import Scaler
from forecaster.model.volatility import VOLATILITY_FLOOR, daily_volatility


def band_scales(band: np.ndarray, scaler: Scaler) -> np.ndarray:
    """Scales (N, K) from a quantile head's band (N, K, 2) of cumulative scaled targets: the band's half-width
    in log-price units (the scaled width times the target's scale: its sd for standard scaling), at least
    ``VOLATILITY_FLOOR``. A crossed band (upper below lower) counts as width 0, so gets the floor."""
    half = np.maximum(band[..., 1] - band[..., 0], 0.0) / 2.0 * scaler.scale[-1]
    return np.maximum(half, VOLATILITY_FLOOR)


def scale_table(candles: pd.DataFrame, horizon: int, basis: str, band: pd.DataFrame | None = None) -> pd.DataFrame:
    """The scale ``s_h`` of a forecast made on each candle's day (rows: ``ts``; columns: h = 1..``horizon``).

    ``volatility``: the day's EWMA volatility x sqrt(h); ``garch``: the sd of the h-day log return ahead under a
    GARCH(1,1)-t fitted on the candles' daily returns (``garch.horizon_sd_table``; consecutive days only, a day
    after a gap has none); ``quantile``: the network's band half-width of that day (``band``: (days, K) from
    ``band_scales``); ``flat``: 1. NaN where a day has no scale (its residuals drop out). When the GARCH
    fit fails, the volatility scales stand in; ``attrs["basis"]`` says which basis the table holds.
    """
    columns = range(1, horizon + 1)
    index = pd.DatetimeIndex(candles["ts"])
    if basis == "flat":
        table = pd.DataFrame(1.0, index=index, columns=columns)
    elif basis == "quantile":
        if band is None:
            raise ValueError("interval basis 'quantile' needs the network's band scales of the days")
        table = pd.DataFrame(band.reindex(index).to_numpy(dtype=float)[:, :horizon], index=index, columns=columns)
    elif basis == "garch":
        consecutive = (candles["ts"].diff() == pd.Timedelta(days=1)).to_numpy()
        returns = np.log(candles["close"].astype(float)).diff().to_numpy()
        try:
            sds = horizon_sd_table(returns[consecutive], horizon)
        except GarchFitError as exc:
            table = scale_table(candles, horizon, "volatility")
            table.attrs["basis"] = f"volatility ({exc})"
            return table
        table = pd.DataFrame(np.nan, index=index, columns=columns)
        table.loc[index[consecutive]] = sds
    else:
        volatility = daily_volatility(candles).to_numpy()
        table = pd.DataFrame(
            volatility[:, None] * np.sqrt(np.arange(1, horizon + 1))[None, :], index=index, columns=columns
        )
    table.attrs["basis"] = basis
    return table


def residual_scales(table: pd.DataFrame, days: pd.DatetimeIndex) -> np.ndarray:
    """Scales (N, K) of forecasts made on ``days``, from ``scale_table``; NaN where a day has none."""
    return table.reindex(days).to_numpy(dtype=float)


def forecast_scales(candles: pd.DataFrame, horizon: int, basis: str, band: np.ndarray | None = None) -> np.ndarray:
    """Scales (K,) of a forecast made on the last candle's day (``band``: its ``band_scales`` (K,), basis
    "quantile")."""
    if basis == "quantile":
        if band is None:
            raise ValueError("interval basis 'quantile' needs the network's band scales of the forecast")
        return np.asarray(band, dtype=float)
    return scale_table(candles, horizon, basis).iloc[-1].to_numpy(dtype=float)


def history_residuals(
    window: pd.DataFrame, horizon: int, basis: str, band: pd.DataFrame | None = None
) -> list[np.ndarray]:
    """Normalised h-day log returns of ``window`` around their median, per horizon: a naive forecast's
    residuals, the fallback when too few validation windows exist (``band``: see ``scale_table``)."""
    calendar = calendar_closes(window)
    days = pd.date_range(window["ts"].iloc[0], periods=len(calendar), freq="D")
    table = scale_table(window, horizon, basis, band)
    log_close = np.log(calendar)
    sets = []
    for h in range(1, horizon + 1):
        moves = log_close[h:] - log_close[:-h]
        scale = residual_scales(table, days[:-h])[:, h - 1]
        normalised = moves / scale
        normalised = normalised[np.isfinite(normalised)]
        sets.append(normalised - np.median(normalised) if normalised.size else normalised)
    return sets


def start_up_calibration(
    log_residuals: np.ndarray,
    anchor_days: pd.DatetimeIndex,
    window: pd.DataFrame,
    level: float,
    basis: str,
    band: pd.DataFrame | None = None,
) -> Calibration:
    """Quantiles from the validation windows' residuals (N, K), or, where a horizon has too few, from the
    window's history, or none (``Calibration.source`` says which). ``band``: the network's band scales per
    day of the window (basis "quantile", ``residual_scales``)."""
    horizon = log_residuals.shape[1]
    scales = residual_scales(scale_table(window, horizon, basis, band), anchor_days)
    try:
        return calibrate(by_horizon(log_residuals / scales), level, "validation")
    except TooFewResiduals:
        pass
    try:
        return calibrate(history_residuals(window, horizon, basis, band), level, "history")
    except TooFewResiduals:
        return NO_INTERVAL


def serving_calibration(
    record: pd.DataFrame, candles: pd.DataFrame, model_cfg: ModelConfig, basis: str, window_days: int
) -> Calibration | None:
    """The calibration of a forecast made on the last day of ``candles``, or ``None``: the fit's own.

    ``model_cfg.interval_residuals`` picks the residuals: ``history``, the h-day moves of the ``window_days``
    ending there (a naive forecast's residuals, about 700 per horizon); ``track_record``, the model's own
    scored errors once every horizon has ``MIN_LEDGER`` of them (``None`` before, so the fit's validation
    quantiles serve). Either way each horizon's level is adapted by ACI over the misses of the intervals the
    model issued (``record``), with the step ``interval_gamma / h``: an h-day forecast's misses come in runs of
    about h overlapping forecasts.

    ``record``: the model's scored forecasts (``as_of``, ``horizon``, ``yhat``, ``yhat_lower``,
    ``yhat_upper``, ``actual``) in target-date order (``results.ledger.track_record``); ``candles``: the
    series up to the new forecast's day.

    Basis "quantile" (the network's own band scales each residual): ``None``, the fit's start-up quantiles;
    the band of each past day would need the network over the window (not done at serving time yet).
    """
    if basis == "quantile":
        return None
    horizon, level = model_cfg.horizon, model_cfg.interval_level
    window = cut_window(candles, candles["ts"].iloc[-1], window_days)
    table = scale_table(window, horizon, basis)
    own, alphas = [], []
    for h in range(1, horizon + 1):
        rows = record.loc[record["horizon"] == h]
        scale = residual_scales(table, pd.DatetimeIndex(rows["as_of"]))[:, h - 1]
        normalised = np.log(rows["actual"].to_numpy(dtype=float) / rows["yhat"].to_numpy(dtype=float)) / scale
        own.append(normalised[np.isfinite(normalised)])
        issued = rows.dropna(subset=["yhat_lower", "yhat_upper"])
        misses = ~issued["actual"].between(issued["yhat_lower"], issued["yhat_upper"])
        alphas.append(aci_alpha(misses.to_numpy(dtype=float), level, model_cfg.interval_gamma / h))
    if model_cfg.interval_residuals == "track_record":
        if min(len(r) for r in own) < MIN_LEDGER:
            return None
        return calibrate(own, level, "ledger", alphas)
    try:
        return calibrate(history_residuals(window, horizon, basis), level, "history", alphas)
    except TooFewResiduals:
        return None
