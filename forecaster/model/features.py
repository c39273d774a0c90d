"""Features and targets computed from daily OHLCV candles, one contiguous segment at a time.

A candle frame has columns ``ts`` (tz-aware UTC open time, daily), ``open, high, low, close,
volume``, sorted ascending. Real data has missing days: ``split_contiguous`` cuts the series at
every gap, and features that compare a day with the day before (``log_return``, ``abs_return``,
``volume_change``) are computed inside a segment only, so no value ever spans a gap. The first
row of each segment has no predecessor and is dropped from every feature frame, whatever the
features, so that training and inference always agree on which rows exist.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from forecaster.model.config import ModelConfig

ONE_DAY = pd.Timedelta(days=1)
CANDLE_COLUMNS: tuple[str, ...] = ("ts", "open", "high", "low", "close", "volume")


def _close(c: pd.DataFrame) -> pd.Series:
    return c["close"]


def _log_return(c: pd.DataFrame) -> pd.Series:
    return np.log(c["close"] / c["close"].shift(1))


def _abs_return(c: pd.DataFrame) -> pd.Series:
    return _log_return(c).abs()


def _range(c: pd.DataFrame) -> pd.Series:
    return np.log(c["high"] / c["low"])


def _volume_change(c: pd.DataFrame) -> pd.Series:
    log_volume = np.log1p(c["volume"])
    return log_volume - log_volume.shift(1)


def _body(c: pd.DataFrame) -> pd.Series:
    return np.log(c["close"] / c["open"])


FEATURES: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "close": _close,
    "log_return": _log_return,
    "abs_return": _abs_return,
    "range": _range,
    "volume_change": _volume_change,
    "body": _body,
}


def utc64(values: pd.Series) -> np.ndarray:
    """UTC times as naive ``datetime64`` (for fast numpy comparisons)."""
    return values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()


def utc64_scalar(value: pd.Timestamp) -> np.datetime64:
    """One UTC time as naive ``datetime64``."""
    return value.tz_convert("UTC").tz_localize(None).to_datetime64()


def check_as_of(as_of: pd.Timestamp) -> pd.Timestamp:
    """Raise ``ValueError`` unless ``as_of`` is timezone-aware; return it in UTC."""
    as_of = pd.Timestamp(as_of)
    if as_of.tzinfo is None:
        raise ValueError(f"as_of {as_of} is naive: pass a timezone-aware UTC timestamp")
    return as_of.tz_convert("UTC")


def check_candles(candles: pd.DataFrame) -> None:
    """Raise ``ValueError`` unless ``candles`` is a sorted, unique, tz-aware daily candle frame."""
    missing = [name for name in CANDLE_COLUMNS if name not in candles.columns]
    if missing:
        raise ValueError(f"candle frame lacks column(s) {missing}; it needs {list(CANDLE_COLUMNS)}")
    ts = candles["ts"]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise ValueError("candle column 'ts' must hold timezone-aware UTC timestamps")
    if not ts.is_monotonic_increasing or ts.duplicated().any():
        raise ValueError("candle timestamps must be strictly increasing (sorted, no duplicates)")


def split_contiguous(candles: pd.DataFrame) -> list[pd.DataFrame]:
    """Cut a candle frame into runs of consecutive days; a missing day starts a new segment."""
    if candles.empty:
        return []
    new_segment = candles["ts"].diff().ne(ONE_DAY)
    segment_id = new_segment.cumsum()
    return [part.reset_index(drop=True) for _, part in candles.groupby(segment_id, sort=True)]


def feature_frame(segment: pd.DataFrame, cfg: ModelConfig) -> pd.DataFrame:
    """Features, target base and close of one contiguous segment, without its first row.

    Columns: ``ts``, ``close``, the configured features in order, and ``target`` (the daily log
    return for target ``log_return``, the close for target ``close``).
    """
    out = pd.DataFrame({"ts": segment["ts"], "close": segment["close"].astype(float)})
    for name in cfg.features:
        out[name] = FEATURES[name](segment).astype(float)
    out["target"] = FEATURES[cfg.target](segment).astype(float)
    return out.iloc[1:].reset_index(drop=True)


def to_prices(target_values: np.ndarray, anchor_close: np.ndarray, target: str) -> np.ndarray:
    """Turn predicted targets (N, K), already unscaled, into prices (N, K).

    For ``log_return`` the K daily returns are compounded from the anchor (last known) close;
    for ``close`` they are prices already.
    """
    if target == "log_return":
        return anchor_close[:, None] * np.exp(np.cumsum(target_values, axis=1))
    return target_values
