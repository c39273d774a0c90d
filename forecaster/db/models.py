"""The relational schema. Alembic migrations in ``forecaster/db/migrations`` create it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from forecaster.db.types import UTCDateTime


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}  # noqa: RUF012 - SQLAlchemy API


class Candle(Base):
    """One closed OHLCV candle; ``ts`` is its open time (UTC)."""

    __tablename__ = "candles"

    exchange: Mapped[str] = mapped_column(String(64), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    timeframe: Mapped[str] = mapped_column(String(16), primary_key=True)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    volume: Mapped[float] = mapped_column(Float)
    ingested_at: Mapped[datetime]


class IngestRun(Base):
    """One ingest of one (exchange, symbol, timeframe): what was asked and what happened."""

    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    exchange: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    timeframe: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # "exchange" or "csv"
    requested_since: Mapped[datetime | None]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # "ok" or "failed"
    rows_fetched: Mapped[int] = mapped_column(default=0)
    rows_new: Mapped[int] = mapped_column(default=0)
    rows_updated: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    first_ts: Mapped[datetime | None]
    last_ts: Mapped[datetime | None]
    gaps: Mapped[list[Any]] = mapped_column(JSON, default=list)
    rejected: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
