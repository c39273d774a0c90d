"""Timeframes of fixed length (minutes to weeks), as ccxt names them."""

from __future__ import annotations

import ccxt
import pandas as pd

from forecaster.errors import InputError

WEEK_MS = 7 * 86_400_000
# The Unix epoch was a Thursday; exchanges open weekly candles on Mondays, three days earlier.
WEEK_OFFSET_MS = 3 * 86_400_000


def timeframe_ms(timeframe: str) -> int:
    """Length of one candle in milliseconds; months and unknown names are refused."""
    if not timeframe or timeframe[-1] not in "mhdw":
        raise InputError(f"unsupported timeframe {timeframe!r}: use a fixed length such as 1h, 4h, 1d or 1w")
    try:
        seconds = ccxt.Exchange.parse_timeframe(timeframe)
    except (ValueError, ccxt.BaseError):
        raise InputError(f"unsupported timeframe {timeframe!r}: use e.g. 1h, 4h, 1d or 1w") from None
    if seconds <= 0:
        raise InputError(f"unsupported timeframe {timeframe!r}")
    return int(seconds * 1000)


def is_aligned(ts_ms: pd.Series, step_ms: int) -> pd.Series:
    """Whether each open time falls on the timeframe's grid (weeks open on Mondays)."""
    offset = WEEK_OFFSET_MS if step_ms == WEEK_MS else 0
    return (ts_ms + offset) % step_ms == 0


def to_timedelta(timeframe: str) -> pd.Timedelta:
    return pd.Timedelta(milliseconds=timeframe_ms(timeframe))


DAILY = "1d"


def require_daily(timeframe: str) -> None:
    """Refuse, in one line, a series that is not daily where the step models it.

    Candles of any fixed timeframe can be ingested and imported, but the model, the baselines, the
    gap bridging, the horizons and target times, the scoring and the backtest count in days: training,
    forecasting, evaluating, reporting and backtesting take daily (``1d``) series only.
    """
    timeframe_ms(timeframe)  # an unsupported name is told as such first
    if timeframe != DAILY:
        raise InputError(
            f"timeframe {timeframe!r}: training, forecasts, evaluation, reports and backtests take daily (1d) "
            f"series only; {timeframe} candles can be ingested and imported, nothing more"
        )
