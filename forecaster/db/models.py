"""The relational schema. Alembic migrations in ``forecaster/db/migrations`` create it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
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
    # Why a failed ingest failed; for an ok one, its warnings (e.g. "no candles after 2025-12-31: ...").
    error: Mapped[str | None] = mapped_column(Text)


class Run(Base):
    """One run of the job: daily (scheduled), manual, or backtest."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # daily, manual, backtest
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    as_of: Mapped[datetime | None]
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # running, completed, failed
    summary: Mapped[str | None] = mapped_column(Text)


class ModelVersion(Base):
    """A trained checkpoint, registered only once its file is on disk. A backtest's versions
    (``run_kind = 'backtest'``) form their own lineage, apart from the live one."""

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("exchange", "symbol", "timeframe", "run_kind", "train_end", name="uq_model_versions_day"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    exchange: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    timeframe: Mapped[str] = mapped_column(String(16))
    run_kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    mode: Mapped[str] = mapped_column(String(16))  # full, finetune
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    train_start: Mapped[datetime]
    train_end: Mapped[datetime]
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    train_loss: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    epochs: Mapped[int]
    duration_s: Mapped[float] = mapped_column(Float)
    checkpoint_path: Mapped[str] = mapped_column(String(1024))
    checkpoint_sha256: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)


class Forecast(Base):
    """One forecast of one model for one horizon. ``run_kind`` is ``live`` or ``backtest``."""

    __tablename__ = "forecasts"
    __table_args__ = (
        UniqueConstraint(
            "model", "exchange", "symbol", "timeframe", "as_of", "horizon", "run_kind", name="uq_forecasts_key"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    run_kind: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(32))
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    exchange: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    timeframe: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[datetime]
    target_ts: Mapped[datetime]
    horizon: Mapped[int]
    yhat: Mapped[float] = mapped_column(Float)
    yhat_lower: Mapped[float | None] = mapped_column(Float)
    yhat_upper: Mapped[float | None] = mapped_column(Float)
    beats_naive: Mapped[bool | None]
    gate_mae_ratio: Mapped[float | None] = mapped_column(Float)
    gate_pvalue: Mapped[float | None] = mapped_column(Float)
    gate_n: Mapped[int | None]
    created_at: Mapped[datetime]


class ForecastEvaluation(Base):
    """The score of a forecast once its target candle has arrived."""

    __tablename__ = "forecast_errors"

    forecast_id: Mapped[int] = mapped_column(ForeignKey("forecasts.id", ondelete="CASCADE"), primary_key=True)
    actual: Mapped[float] = mapped_column(Float)
    error: Mapped[float] = mapped_column(Float)  # actual - yhat
    abs_error: Mapped[float] = mapped_column(Float)
    ape: Mapped[float] = mapped_column(Float)  # |error| / |actual|, a fraction
    direction_hit: Mapped[bool | None]
    inside_interval: Mapped[bool | None]
    evaluated_at: Mapped[datetime]
