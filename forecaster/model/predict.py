"""``forecast``: prices 1..K days after ``as_of`` with conformal intervals, from candles up to ``as_of``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from forecaster.model.artifact import TrainedModel, outputs_to_prices, predict_outputs
from forecaster.model.calibration import band_scales, forecast_scales
from forecaster.model.features import ONE_DAY, check_as_of, check_candles, feature_frame
from forecaster.model.intervals import Calibration, apply_intervals
from forecaster.model.network import split_outputs

FORECAST_COLUMNS: tuple[str, ...] = ("horizon", "target_ts", "yhat", "yhat_lower", "yhat_upper")


class HistoryGapError(ValueError):
    """The candles before ``as_of`` miss more days than the model may bridge (or ``as_of`` itself): a
    condition of the data, which a later ingest may heal, not a fault of the code."""


def recent_history(candles: pd.DataFrame, as_of: pd.Timestamp, days: int, max_bridged: int = 0) -> pd.DataFrame:
    """The ``days`` daily candles ending at ``as_of``; gaps of at most ``max_bridged`` days are bridged.

    A gap inside the window is bridged by interpolating prices linearly in log space (and volume
    linearly) between its neighbours; one at the window's start takes its nearest neighbour. The
    bridged days are listed in ``frame.attrs["bridged"]``. A missing ``as_of`` candle, or a gap of
    more than ``max_bridged`` consecutive days: ``HistoryGapError`` naming the missing days.
    """
    check_candles(candles)
    as_of = check_as_of(as_of)
    expected = pd.date_range(end=as_of, periods=days, freq="D")
    recent = candles.loc[(candles["ts"] >= expected[0]) & (candles["ts"] <= as_of)].set_index("ts")
    recent = recent.reindex(expected)
    absent = recent["close"].isna()
    missing = recent.index[absent]
    longest = int(absent.groupby((~absent).cumsum()).sum().max()) if absent.any() else 0
    if longest > max_bridged or as_of in missing:
        shown = ", ".join(str(ts.date()) for ts in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise HistoryGapError(
            f"forecast as of {as_of.date()} needs the {days} daily candles ending there (gaps of at most "
            f"{max_bridged} days bridged); {len(missing)} missing: {shown}"
        )
    if len(missing):
        prices = ["open", "high", "low", "close"]
        recent[prices] = np.exp(np.log(recent[prices]).interpolate(limit_direction="both"))
        recent["volume"] = recent["volume"].interpolate(limit_direction="both")
    frame = recent.rename_axis("ts").reset_index()
    frame.attrs["bridged"] = [ts.date().isoformat() for ts in missing]
    return frame


def forecast(
    model: TrainedModel, candles: pd.DataFrame, as_of: pd.Timestamp, calibration: Calibration | None = None
) -> pd.DataFrame:
    """Point forecasts and intervals for horizons 1..K, using only candles with ``ts <= as_of``.

    The intervals use ``calibration`` (``calibration.serving_calibration``) when
    given, else the model's own start-up quantiles; ``attrs["calibration"]`` says which, in words.

    Needs ``lookback + 1`` daily candles ending at ``as_of`` (one more than the lookback: the
    first row only feeds the day-over-day features); gaps of at most ``max_bridged_days`` days are
    bridged (see ``recent_history``; listed in the result's ``attrs["bridged"]``).
    ``target_ts`` is ``as_of + h`` days, the open time of the candle whose close is forecast.
    """
    cfg = model.model_config
    as_of = check_as_of(as_of)
    history = recent_history(candles, as_of, cfg.lookback + 1, cfg.max_bridged_days)
    frame = feature_frame(history, cfg)
    scaler = model.scaler()
    scaled = scaler.transform(frame[[*cfg.features, "target"]].to_numpy())[:, :-1]
    x = torch.tensor(scaled[None, :, :], dtype=torch.float32)  # (1, L, F)
    anchor = np.array([frame["close"].iloc[-1]], dtype=float)
    point, band = split_outputs(torch.from_numpy(predict_outputs(model.network(), x)), cfg.horizon)
    yhat = outputs_to_prices(point.numpy(), anchor, scaler, cfg.target, model.shrink)[0]
    if calibration is None:
        quantiles = (model.interval_lower, model.interval_upper)
        note = (
            f"intervals calibrated on the fit's {model.interval_source} residuals"
            if model.interval_lower
            else "no interval: the fit had too few residuals to calibrate one"
        )
    else:
        quantiles, note = (calibration.lower, calibration.upper), calibration.note()
    band_scale = None if band is None else band_scales(band.numpy(), scaler)[0]
    scales = forecast_scales(candles.loc[candles["ts"] <= as_of], cfg.horizon, model.interval_basis, band_scale)
    lower, upper = apply_intervals(yhat, scales, *quantiles)
    horizons = np.arange(1, cfg.horizon + 1)
    result = pd.DataFrame(
        {
            "horizon": horizons,
            "target_ts": [as_of + int(h) * ONE_DAY for h in horizons],
            "yhat": yhat,
            "yhat_lower": lower,
            "yhat_upper": upper,
        }
    )
    result.attrs["bridged"] = history.attrs["bridged"]
    result.attrs["calibration"] = note
    return result
