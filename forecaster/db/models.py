"""The relational schema. Alembic migrations in ``forecaster/db/migrations`` create it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from forecaster.db.types import UTCDateTime

#: JSON documents: ``jsonb`` on PostgreSQL (``@>``, ``?``, GIN indexes), ``JSON`` text on SQLite.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")

#: Who started a run: a deployment's schedule, a person (a deployment run by hand, or the flow called
#: directly), ``forecaster run``, or a backtest (the CLI's or the flow's).
TRIGGERS = ("scheduled", "manual", "cli", "backtest")


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy API
        datetime: UTCDateTime(),
        date: Date(),
        dict[str, Any]: JSONDocument,
        list[Any]: JSONDocument,
    }


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
    gaps: Mapped[list[Any]] = mapped_column(default=list)
    rejected: Mapped[list[Any]] = mapped_column(default=list)
    # Why a failed ingest failed; for an ok one, its warnings (e.g. "no candles after 2025-12-31: ...").
    error: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))  # the daily run that ingested; null: CLI


class Run(Base):
    """One run of the job. ``trigger`` says who started it (``TRIGGERS``); ``as_of`` is the as-of day it
    used (the newest stored candle's day when none was asked; a backtest's last day)."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    trigger: Mapped[str] = mapped_column(String(16))  # scheduled, manual, cli, backtest
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    as_of: Mapped[datetime | None]
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    manifest: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # running, completed, failed
    summary: Mapped[str | None] = mapped_column(Text)


class ModelVersion(Base):
    """A trained model, registered together with its checkpoint's bytes (``checkpoints``). A backtest's
    versions (``run_kind = 'backtest'``) form their own lineage, apart from the live one.

    ``checkpoint_path`` is the checkpoint's key in each machine's local cache, relative to
    ``FORECASTER_DATA_DIR/checkpoints`` (an absolute path: a version registered before the checkpoint
    store whose file the migration could not read). ``pruned_at``: when the retention policy deleted
    the checkpoint; the row stays, so the lineage and the forecasts' references remain queryable.
    """

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
    hyperparameters: Mapped[dict[str, Any]]
    train_loss: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    epochs: Mapped[int]
    duration_s: Mapped[float] = mapped_column(Float)
    checkpoint_path: Mapped[str] = mapped_column(String(1024))
    checkpoint_sha256: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict[str, Any]]
    pruned_at: Mapped[datetime | None]


class Checkpoint(Base):
    """The bytes of a model version's checkpoint, committed in the same transaction as its row:
    every worker that reaches the database can load every model (BYTEA on PostgreSQL, BLOB on SQLite)."""

    __tablename__ = "checkpoints"

    model_version_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("model_versions.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Forecast(Base):
    """One forecast of one model for one horizon. ``run_kind`` is ``live`` or ``backtest``.

    ``as_of`` and ``target_ts`` are candle open times (UTC); ``as_of_date`` and ``target_date`` the
    UTC days those candles stand for. ``interval_level`` is the nominal level of ``[yhat_lower,
    yhat_upper]`` (0.8: an 80 % interval), stored for every model, baselines included.
    """

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
    as_of_date: Mapped[date]
    target_date: Mapped[date]
    horizon: Mapped[int]
    yhat: Mapped[float] = mapped_column(Float)
    yhat_lower: Mapped[float | None] = mapped_column(Float)
    yhat_upper: Mapped[float | None] = mapped_column(Float)
    interval_level: Mapped[float] = mapped_column(Float)
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
