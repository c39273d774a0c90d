"""Deterministic synthetic candles for the offline demo and tests, and a demo loopback exchange serving them.

Each symbol follows its own random walk in log price: Student-t shocks (5 degrees of freedom, scaled to unit
variance) times a daily volatility that switches between calm, normal and turbulent regimes (a Markov chain
with exponential durations), a small upward drift and a weak pull back to that drifting level, so that
prices stay in a plausible range for years. Highs and lows add wicks that scale with the regime's
volatility; volume grows with the candle's absolute return.

Everything is generated from ``EPOCH`` (2018-01-01) onwards with numpy generators seeded by
``zlib.crc32`` of the symbol and element by element, then sliced: the same symbol and range always gives
the same values, and a longer range extends a shorter one without changing the days they share.
"""

from __future__ import annotations

import math
import zlib
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from forecaster.exchange.loopback import LoopbackExchange, TimeLike, to_ms
from forecaster.timeframes import timeframe_ms

EPOCH = datetime(2018, 1, 1, tzinfo=UTC)
DEMO_SYMBOLS = (
    "BTC/USDT",
    "ETH/USDT",
    "SOL/USDT",
    "BNB/USDT",
    "XRP/USDT",
    "ADA/USDT",
    "DOGE/USDT",
    "AVAX/USDT",
    "LINK/USDT",
    "LTC/USDT",
)
_DAY_MS = 86_400_000
# Price at EPOCH and volatility relative to BTC's, per base asset; other bases draw both from their seed.
_LEVELS = {
    "BTC": 30_000.0,
    "ETH": 2_000.0,
    "SOL": 50.0,
    "BNB": 300.0,
    "XRP": 0.5,
    "ADA": 0.4,
    "DOGE": 0.08,
    "AVAX": 25.0,
    "LINK": 12.0,
    "LTC": 80.0,
}
_VOL_SCALES = {"BTC": 1.0, "ETH": 1.2, "SOL": 1.6, "BNB": 1.15, "XRP": 1.35, "ADA": 1.35, "DOGE": 1.6}
# Regimes calm, normal, turbulent: BTC's daily volatility, mean duration in days, and the transition
# probabilities to the other regimes (cumulative rows of a matrix with a zero diagonal).
_REGIME_VOL = np.array([0.018, 0.032, 0.065])
_REGIME_DAYS = np.array([60.0, 45.0, 15.0])
_NEXT_REGIME = np.cumsum([[0.0, 0.8, 0.2], [0.5, 0.0, 0.5], [0.3, 0.7, 0.0]], axis=1)
_T_DOF = 5.0
_DRIFT_PER_DAY = 0.0002
_PULL_PER_DAY = 0.003
_WICK = 0.6
_DOLLAR_VOLUME = 1.0e9


def synthetic_candles(symbol: str, start: TimeLike, end: TimeLike, *, timeframe: str = "1d") -> pd.DataFrame:
    """Candles of ``symbol`` opening in ``[start, end]`` (both inclusive, none before ``EPOCH``).

    Columns ``ts`` (tz-aware UTC open time), open, high, low, close, volume, oldest first. ``start`` and
    ``end`` are tz-aware datetimes or ISO strings (naive strings are UTC).
    """
    step_ms = timeframe_ms(timeframe)
    epoch_ms = to_ms(EPOCH)
    first = max(0, -((epoch_ms - to_ms(start)) // step_ms))  # ceil division
    last = (to_ms(end) - epoch_ms) // step_ms
    count = max(0, last + 1 - first)
    empty = np.empty(0, dtype=np.float64)
    opens, highs, lows, closes, volumes = _walk(symbol, last + 1, step_ms) if count else (empty,) * 5
    open_ms = epoch_ms + step_ms * np.arange(first, first + count, dtype=np.int64)
    window = slice(first, first + count)
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(open_ms, unit="ms", utc=True),
            "open": opens[window],
            "high": highs[window],
            "low": lows[window],
            "close": closes[window],
            "volume": volumes[window],
        }
    )


def demo_exchange(now: datetime | None = None) -> LoopbackExchange:
    """A (not yet started) loopback exchange serving daily ``DEMO_SYMBOLS`` candles from ``EPOCH`` on.

    Its clock is ``now`` (``None``: the real time). Candles are generated a week past the clock, so moving
    the clock forward with ``set_clock`` reveals new days.
    """
    clock = datetime.now(UTC) if now is None else now
    end = clock + timedelta(days=7)
    candles = {symbol: synthetic_candles(symbol, EPOCH, end) for symbol in DEMO_SYMBOLS}
    return LoopbackExchange(candles, timeframe="1d", now=now)


def _profile(symbol: str, seed: int) -> tuple[float, float]:
    """The price level at ``EPOCH`` and the volatility scale of ``symbol``."""
    base = symbol.partition("/")[0]
    draw_level, draw_vol = np.random.default_rng([seed, 99]).random(2)
    level = _LEVELS.get(base, 10.0 * 50.0**draw_level)
    return level, _VOL_SCALES.get(base, 1.2 + 0.5 * draw_vol)


def _regimes(rng: np.random.Generator, n: int, days_per_step: float) -> np.ndarray:
    """Regime index (0 calm, 1 normal, 2 turbulent) of each of ``n`` steps, starting in normal."""
    regimes = np.empty(n, dtype=np.intp)
    filled, regime = 0, 1
    while filled < n:
        draw_length, draw_next = rng.random(2)
        days = -_REGIME_DAYS[regime] * math.log1p(-draw_length)
        steps = max(1, math.ceil(days / days_per_step))
        regimes[filled : filled + steps] = regime
        filled += steps
        regime = int(np.searchsorted(_NEXT_REGIME[regime], draw_next, side="right"))
    return regimes


def _walk(symbol: str, n: int, step_ms: int) -> tuple[np.ndarray, ...]:
    """Open, high, low, close and volume of the first ``n`` steps from ``EPOCH``.

    Each random stream has its own generator and is drawn element by element, so step ``i`` never depends
    on ``n``: that is what makes a longer range extend a shorter one.
    """
    seed = zlib.crc32(symbol.encode())
    regime_rng, shock_rng, wick_rng, volume_rng = (np.random.default_rng([seed, k]) for k in range(4))
    level, vol_scale = _profile(symbol, seed)
    days_per_step = step_ms / _DAY_MS
    sigma = _REGIME_VOL[_regimes(regime_rng, n, days_per_step)] * vol_scale * math.sqrt(days_per_step)
    shocks = sigma * shock_rng.standard_t(_T_DOF, n) * math.sqrt((_T_DOF - 2) / _T_DOF)

    # Deviation from the level, an AR(1): x_t = phi x_{t-1} + shock_t = phi^t * sum_{s<=t} phi^-s shock_s.
    phi = 1.0 - _PULL_PER_DAY * days_per_step
    steps = np.arange(1, n + 1, dtype=np.float64)
    deviation = phi**steps * np.cumsum(shocks * phi**-steps)
    close = level * np.exp(_DRIFT_PER_DAY * days_per_step * steps + deviation)
    open_ = np.concatenate([[level], close[:-1]])

    wicks = np.abs(wick_rng.standard_normal((n, 2)))
    high = np.maximum(open_, close) * np.exp(_WICK * sigma * wicks[:, 0])
    low = np.minimum(open_, close) * np.exp(-_WICK * sigma * wicks[:, 1])

    abs_return = np.abs(np.log(close / open_))
    noise = np.exp(0.3 * volume_rng.standard_normal(n))
    dollar_volume = _DOLLAR_VOLUME * (level / _LEVELS["BTC"]) ** 0.25 * days_per_step
    volume = dollar_volume / close * (0.4 + 25.0 * abs_return) * noise

    decimals = int(np.clip(4 - math.floor(math.log10(level)), 2, 8))
    prices = (np.round(series, decimals) for series in (open_, high, low, close))
    return (*prices, np.round(volume, 4))
