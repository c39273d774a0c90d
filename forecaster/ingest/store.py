"""Reading and writing candles. Callers own the session and its transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forecaster.dates import as_utc
from forecaster.db.models import Candle
from forecaster.db.upsert import upsert
from forecaster.series import CANDLE_COLUMNS, PRICES, SeriesKey, of_series

KEY = ("exchange", "symbol", "timeframe", "ts")
VALUES = [*PRICES, "volume"]


@dataclass(frozen=True)
class UpsertCounts:
    new: int
    updated: int


def store_candles(session: Session, key: SeriesKey, frame: pd.DataFrame) -> UpsertCounts:
    """Upsert clean candles; rows identical to what is stored are not written at all."""
    if frame.empty:
        return UpsertCounts(0, 0)
    stored = load_candles(session, key, frame["ts"].min(), frame["ts"].max())
    merged = frame.merge(stored, on="ts", how="left", suffixes=("", "_stored"), indicator=True)
    is_new = (merged["_merge"] == "left_only").to_numpy()
    changed = np.zeros(len(merged), dtype=bool)
    for column in VALUES:
        changed |= ~np.isclose(merged[column], merged[f"{column}_stored"], rtol=1e-12, atol=0.0)
    write = merged.loc[is_new | changed, CANDLE_COLUMNS]
    now = datetime.now(UTC)
    rows = [
        {
            "exchange": key.exchange,
            "symbol": key.symbol,
            "timeframe": key.timeframe,
            "ingested_at": now,
            **row,
        }
        for row in write.assign(ts=write["ts"].dt.to_pydatetime()).to_dict("records")
    ]
    upsert(session, Candle.__table__, rows, KEY)  # type: ignore[arg-type]
    new = int(is_new.sum())
    return UpsertCounts(new=new, updated=len(rows) - new)


def load_candles(
    session: Session, key: SeriesKey, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """Stored candles of one series between ``start`` and ``end`` (inclusive), oldest first."""
    query = select(Candle.ts, Candle.open, Candle.high, Candle.low, Candle.close, Candle.volume).where(
        of_series(Candle, key)
    )
    if start is not None:
        query = query.where(Candle.ts >= start)
    if end is not None:
        query = query.where(Candle.ts <= end)
    rows = session.execute(query.order_by(Candle.ts)).all()
    frame = pd.DataFrame(rows, columns=CANDLE_COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame.astype(dict.fromkeys(VALUES, "float64"))


@dataclass(frozen=True)
class StoredRange:
    count: int
    first: datetime | None
    last: datetime | None


def stored_range(session: Session, key: SeriesKey) -> StoredRange:
    count, first, last = session.execute(
        select(func.count(), func.min(Candle.ts), func.max(Candle.ts)).where(of_series(Candle, key))
    ).one()
    # Aggregates bypass the column type on SQLite: normalise to aware UTC.
    return StoredRange(int(count), as_utc(first) if first else None, as_utc(last) if last else None)


def last_before(session: Session, key: SeriesKey, ts: datetime) -> datetime | None:
    """Open time of the newest stored candle strictly before ``ts``."""
    return session.execute(
        select(Candle.ts)
        .where(
            of_series(Candle, key),
            Candle.ts < ts,
        )
        .order_by(Candle.ts.desc())
        .limit(1)
    ).scalar()
