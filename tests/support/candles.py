"""Candles for tests, all generated here: no test needs a file from outside the repository.

``calendar_candles`` stands in for the real files of ``../shared/data`` (only ``tests/model/test_real_data.py``
reads those, as an extra); ``random_walk`` makes short plain series for the model's unit tests.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.exchange.loopback import NO_FAULTS, FaultSource, LoopbackExchange
from forecaster.exchange.synthetic import EPOCH, synthetic_candles
from forecaster.ingest.clean import CleanCandles
from forecaster.ingest.service import save_batch
from forecaster.series import SeriesKey

ONE_DAY = pd.Timedelta(days=1)

# The calendar of the real daily files (see ../shared/data/SOURCES.md): one row a day, but for six days missing.
CALENDAR_FIRST = pd.Timestamp("2017-08-17", tz="UTC")
CALENDAR_LAST = pd.Timestamp("2026-03-30", tz="UTC")
CALENDAR_MISSING = tuple(
    pd.Timestamp(day, tz="UTC")
    for day in ("2026-01-08", "2026-01-20", "2026-03-20", "2026-03-21", "2026-03-22", "2026-03-25")
)

# The half year the flow tests serve on the loopback exchange, and the clock just after its last candle closed.
FIRST_DAY = pd.Timestamp("2024-01-01", tz="UTC")
LAST_DAY = pd.Timestamp("2024-06-30", tz="UTC")


def calendar_candles(symbol: str) -> pd.DataFrame:
    """Synthetic daily candles of ``symbol`` on the real files' calendar: 2017-08-17..2026-03-30 less 6 days.

    3142 rows, gap-free up to 2026-01-07, then missing 2026-01-08, 2026-01-20, 2026-03-20..22 and 2026-03-25 (4
    gaps), as the real BTC/USDT and ETH/USDT files are. The values are ``forecaster.exchange.synthetic``'s regime
    walk of ``symbol`` from its ``EPOCH`` on, laid day by day on this calendar (the walk starts in 2018), so
    the same symbol always gives the same frame.
    """
    days = pd.date_range(CALENDAR_FIRST, CALENDAR_LAST, freq="D")
    frame = synthetic_candles(symbol, EPOCH, EPOCH + (len(days) - 1) * ONE_DAY.to_pytimedelta())
    frame["ts"] = days
    return frame[~frame["ts"].isin(CALENDAR_MISSING)].reset_index(drop=True)


def window(frame: pd.DataFrame, last: pd.Timestamp = LAST_DAY) -> pd.DataFrame:
    """The rows of ``frame`` from ``FIRST_DAY`` to ``last``."""
    return frame[(frame["ts"] >= FIRST_DAY) & (frame["ts"] <= last)].reset_index(drop=True)


def clock_after(day: pd.Timestamp) -> datetime:
    """Ten minutes after the candle of ``day`` closed."""
    return (day + pd.Timedelta(days=1, minutes=10)).to_pydatetime()


def half_year_exchange(frames: dict[str, pd.DataFrame], faults: FaultSource = NO_FAULTS) -> LoopbackExchange:
    """A (not yet started) loopback exchange serving the ``window`` of each symbol's frame, the clock just after
    ``LAST_DAY`` closed."""
    served = {symbol: window(frame) for symbol, frame in frames.items()}
    return LoopbackExchange(served, now=clock_after(LAST_DAY), faults=faults)


START = pd.Timestamp("2021-01-01", tz="UTC")


def make_candles(log_returns: np.ndarray, start: pd.Timestamp = START, seed: int = 0) -> pd.DataFrame:
    """Daily candles whose closes follow ``100 * exp(cumsum(log_returns))``."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(log_returns))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.exp(np.abs(rng.normal(0.0, 0.005, size=(2, len(close)))))
    return pd.DataFrame(
        {
            "ts": pd.date_range(start, periods=len(close), freq="D"),
            "open": open_,
            "high": np.maximum(open_, close) * wick[0],
            "low": np.minimum(open_, close) / wick[1],
            "close": close,
            "volume": rng.lognormal(10.0, 0.3, size=len(close)),
        }
    )


def random_walk(n: int, seed: int = 0, sigma: float = 0.02) -> pd.DataFrame:
    """``n`` daily candles from 2021-01-01 of a Gaussian random walk in log price."""
    return make_candles(np.random.default_rng(seed).normal(0.0, sigma, size=n), seed=seed)


def store_candles(sessions: sessionmaker[Session], key: SeriesKey, frame: pd.DataFrame) -> None:
    """Write clean candles straight into the database, as an ingest would (with its ingest record)."""
    now = pd.Timestamp.now(tz="UTC").to_pydatetime()
    clean = CleanCandles(frame.reset_index(drop=True))
    save_batch(sessions, key, clean, fetched=len(frame), source="csv", requested_since=None, started=now)
