"""The daily volatility that scales the model's intervals: an exponentially weighted RMS of daily log returns.

``daily_volatility`` gives, for every candle day, the volatility known at its close: the square root of
the exponentially weighted mean of the squared daily log returns up to that day (RiskMetrics-style,
no mean; decay ``VOLATILITY_DECAY``). A return across a gap of g days counts as g days of variance
(its square is divided by g). Residuals divided by this scale are "normalised": the intervals carry
their quantiles, so an interval widens in a storm and narrows in a calm (``intervals.py``).

The decay 0.99 (a half-life of 69 days) was chosen on BTC, ETH and SOL (2025-03-31..2026-03-30, the
interval score of normalised conformal intervals around naive, ``docs/model.md``): 0.94 and 0.97 react
faster and lost at horizon 7 (1.06x and 1.04x naive's interval score), 0.99 was 0.99x at horizon 1
and 1.01x at horizon 7.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

VOLATILITY_DECAY = 0.99
#: The least volatility a day is given (0.01 % a day): a flat series still gives finite normalised residuals.
VOLATILITY_FLOOR = 1e-4


def daily_volatility(candles: pd.DataFrame, decay: float = VOLATILITY_DECAY) -> pd.Series:
    """The volatility (sd of a daily log return) known at each candle's close, indexed by ``ts``.

    NaN on the first candle (no return yet), at least ``VOLATILITY_FLOOR`` elsewhere. ``candles``: a sorted
    daily candle frame (``ts``, ``close``).
    """
    if not 0.0 < decay < 1.0:
        raise ValueError(f"decay must be in (0, 1), got {decay}")
    ts = candles["ts"]
    days = ts.diff().dt.total_seconds().to_numpy() / 86400.0
    returns = np.log(candles["close"].astype(float)).diff().to_numpy()
    variance = pd.Series(returns**2 / days).ewm(alpha=1.0 - decay, adjust=True, ignore_na=True).mean()
    volatility = np.maximum(np.sqrt(variance.to_numpy()), VOLATILITY_FLOOR)  # NaN stays NaN
    return pd.Series(volatility, index=pd.DatetimeIndex(ts), name="volatility")
