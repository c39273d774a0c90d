"""The daily job's steps for one series, over the library: train, forecast, evaluate.

Each step opens its own short transactions and is idempotent for a given as-of day: a model
version already trained for that day is reused, a forecast set already written is left alone.
The CLI, the Prefect flows and the backtest all call these functions.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.dates import as_utc
from forecaster.db.locks import advisory_lock
from forecaster.db.models import Forecast, ModelVersion
from forecaster.errors import InputError
from forecaster.ingest.store import SeriesKey, load_candles, of_series, stored_range
from forecaster.manifest import build_manifest
from forecaster.model.artifact import TrainedModel
from forecaster.model.baselines import baseline_forecast, baseline_names
from forecaster.model.checkpoint import CheckpointError
from forecaster.model.config import ModelConfig, TrainConfig
from forecaster.model.data import required_days
from forecaster.model.policy import choose_mode, parent_val_loss
from forecaster.model.predict import forecast
from forecaster.model.train import seed_everything, train
from forecaster.registry import latest_version, load_version, save_and_register
from forecaster.results.evaluate import evaluate_matured
from forecaster.results.forecasts import (
    MODEL,
    forecast_days,
    forecast_rows,
    models_with_forecasts,
    write_forecasts,
)
from forecaster.results.gate import GateConfig, naive_gate

TrainMode = Literal["full", "finetune", "auto"]
# torch's random state belongs to the process: a fit in one thread would draw from the seed of a fit
# (or the weight init of a network built for a forecast) in another. Torch work in one process takes
# turns; parallel fits run in processes (Dask workers, work pools). A fit takes the torch turn first,
# then its series' lock, so a process waits on (and holds a connection for) at most one series lock.
_TORCH_TURN = threading.Lock()
RunKind = Literal["live", "backtest"]


class JobConfig(BaseModel):
    """Everything the steps need besides the database: model, training, gate, where checkpoints go."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    gate_window_days: int = Field(default=90, ge=7)
    gate_min_pairs: int = Field(default=20, ge=2)
    run_kind: RunKind = "live"

    @model_validator(mode="after")
    def _window_fits_the_model(self) -> JobConfig:
        needed = required_days(self.model, self.train)
        if self.train.window_days < needed:
            raise ValueError(
                f"window_days={self.train.window_days} is shorter than the model needs: {needed} days "
                f"(1 + lookback {self.model.lookback} + horizon {self.model.horizon} + val_days {self.train.val_days})"
            )
        if self.train.val_days < self.model.horizon:
            raise ValueError(f"val_days ({self.train.val_days}) must be at least the horizon ({self.model.horizon})")
        return self

    @property
    def gate(self) -> GateConfig:
        return GateConfig(window_days=self.gate_window_days, min_pairs=self.gate_min_pairs)

    @property
    def history_days(self) -> int:
        """Calendar days of candles the steps read: the training window plus the input lookback."""
        return self.train.window_days + self.model.lookback + 2


@dataclass(frozen=True)
class TrainOutcome:
    version_id: int
    mode: str
    reason: str
    trained: bool
    epochs: int = 0
    train_loss: float | None = None
    val_loss: float | None = None
    seconds: float = 0.0

    def line(self, key: SeriesKey) -> str:
        if not self.trained:
            return f"{key}: model version {self.version_id} already trained for this day"
        return (
            f"{key}: {self.mode} ({self.reason}), {self.epochs} epochs, train loss {self.train_loss:.4f}, "
            f"val loss {self.val_loss:.4f}, {self.seconds:.1f} s -> model version {self.version_id}"
        )


@dataclass
class ForecastOutcome:
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def line(self, key: SeriesKey, as_of: datetime) -> str:
        parts = [f"{key} as of {as_of:%Y-%m-%d}: wrote {', '.join(self.written) or 'nothing'}"]
        if self.skipped:
            parts.append(f"already there: {', '.join(self.skipped)}")
        return "; ".join(parts + self.problems)


def read_history(sessions: sessionmaker[Session], key: SeriesKey, as_of: datetime, days: int) -> pd.DataFrame:
    """The candles of the ``days`` before ``as_of`` (inclusive), never any later one."""
    with sessions() as session:
        return load_candles(session, key, start=as_of - timedelta(days=days), end=as_of)


def train_step(
    sessions: sessionmaker[Session],
    key: SeriesKey,
    as_of: datetime,
    mode: TrainMode,
    config: JobConfig,
    checkpoint_dir: Path,
    *,
    run_id: int | None = None,
) -> TrainOutcome:
    """Train the model for ``as_of`` (full, fine-tune, or as the auto policy decides) and register it.

    One trainer per series at a time: the fit and its registration hold this process's torch turn
    and the series' lock (``forecaster.db.locks``), and whoever comes second finds the version of
    the day already registered and reuses it instead of training again.
    """
    done = _already_trained(sessions, key, as_of, config.run_kind)
    if done is not None:
        return done
    candles = read_history(sessions, key, as_of, config.history_days)
    if candles.empty:
        raise InputError(f"no candles of {key} up to {as_of:%Y-%m-%d}: ingest first")
    with _TORCH_TURN, advisory_lock(sessions, f"forecaster train {key} {config.run_kind}"):
        done = _already_trained(sessions, key, as_of, config.run_kind)  # by a run we waited for
        if done is not None:
            return done
        with sessions() as session:
            parent_row = latest_version(session, key, config.run_kind, as_of)
        parent, chosen, reason = _choose(parent_row, candles, as_of, mode, config)
        seed_everything(config.train.seed)  # the entry of this training run: the same seed, the same weights
        model = train(candles, pd.Timestamp(as_of), config.model, config.train, parent=parent)
        used = candles[candles["ts"] >= model.train_start]
        manifest = build_manifest(used, seed=config.train.seed, mode=chosen, reason=reason)
        version = save_and_register(
            sessions,
            checkpoint_dir,
            key,
            model,
            run_kind=config.run_kind,
            parent_id=parent_row.id if parent is not None and parent_row is not None else None,
            run_id=run_id,
            manifest=manifest,
        )
    return TrainOutcome(version.id, chosen, reason, True, model.epochs, model.train_loss, model.val_loss, model.seconds)


def _already_trained(
    sessions: sessionmaker[Session], key: SeriesKey, as_of: datetime, run_kind: str
) -> TrainOutcome | None:
    with sessions() as session:
        existing = _version_for(session, key, as_of, run_kind)
    if existing is None:
        return None
    return TrainOutcome(existing.id, existing.mode, "already trained", trained=False)


def _choose(
    parent_row: ModelVersion | None, candles: pd.DataFrame, as_of: datetime, mode: TrainMode, config: JobConfig
) -> tuple[TrainedModel | None, str, str]:
    """The parent to start from (None: train in full), the mode and the reason."""
    if mode == "full":
        return None, "full", "asked for a full retrain"
    if parent_row is None:
        if mode == "finetune":
            raise InputError("no model to fine-tune yet: train with --mode full or auto first")
        return None, "full", "no parent model"
    try:
        parent = load_version(parent_row)
    except CheckpointError as exc:
        if mode == "finetune":
            raise InputError(f"the latest checkpoint is unusable: {exc}") from exc
        return None, "full", f"parent checkpoint refused ({exc})"
    if parent.model_config != config.model:
        if mode == "finetune":
            raise InputError("model settings differ from the latest checkpoint's: train with --mode full")
        return None, "full", "model settings changed"
    if mode == "finetune":
        return parent, "finetune", "asked to fine-tune"
    current = parent_val_loss(parent, candles, pd.Timestamp(as_of))
    chosen, reason = choose_mode(parent, pd.Timestamp(as_of), config.train, current)
    return (parent if chosen == "finetune" else None), chosen, reason


def _version_for(session: Session, key: SeriesKey, as_of: datetime, run_kind: str) -> ModelVersion | None:
    return session.scalars(
        select(ModelVersion)
        .where(
            of_series(ModelVersion, key),
            ModelVersion.run_kind == run_kind,
            ModelVersion.train_end == as_of,
        )
        .order_by(ModelVersion.id.desc())
        .limit(1)
    ).first()


def forecast_step(
    sessions: sessionmaker[Session],
    key: SeriesKey,
    as_of: datetime,
    config: JobConfig,
    *,
    run_id: int | None = None,
) -> ForecastOutcome:
    """Write the forecast set of ``as_of``: the model (when a version is trained) and every baseline.

    All rows go in one transaction; models already forecast for this day are left as they are.
    """
    outcome = ForecastOutcome()
    with sessions() as session:
        done = models_with_forecasts(session, key, as_of, config.run_kind)
        version = latest_version(session, key, config.run_kind, as_of)
    wanted = [MODEL, *baseline_names()]
    outcome.skipped = [name for name in wanted if name in done]
    if len(outcome.skipped) == len(wanted):
        return outcome
    candles = read_history(sessions, key, as_of, config.history_days)
    if candles.empty or candles["ts"].iloc[-1] != pd.Timestamp(as_of):
        raise InputError(f"no candle of {key} for {as_of:%Y-%m-%d}: ingest it first, or pick a stored day")
    frames: dict[str, pd.DataFrame] = {}
    for name in baseline_names():
        if name not in done:
            frames[name] = baseline_forecast(
                name,
                candles,
                pd.Timestamp(as_of),
                horizon=config.model.horizon,
                interval_level=config.model.interval_level,
                window_days=config.train.window_days,
            )
    if MODEL not in done:
        if version is None:
            outcome.problems.append("no trained model yet: baselines only")
        else:
            try:
                with _TORCH_TURN:
                    frames[MODEL] = forecast(load_version(version), candles, pd.Timestamp(as_of))
                if frames[MODEL].attrs.get("bridged"):
                    bridged = ", ".join(frames[MODEL].attrs["bridged"])
                    outcome.problems.append(f"model input bridged missing days {bridged} (log-linear)")
            except (ValueError, CheckpointError) as exc:
                outcome.problems.append(f"model skipped: {exc}")
    with sessions.begin() as session:
        gates = naive_gate(session, key, as_of, config.run_kind, MODEL, config.gate) if MODEL in frames else {}
        for name, frame in frames.items():
            rows = forecast_rows(
                frame,
                model=name,
                key=key,
                as_of=as_of,
                run_id=run_id,
                run_kind=config.run_kind,
                model_version_id=version.id if name == MODEL and version is not None else None,
                gates=gates if name == MODEL else None,
            )
            write_forecasts(session, rows)
    outcome.written = list(frames)
    return outcome


def evaluate_step(sessions: sessionmaker[Session], key: SeriesKey | None = None) -> int:
    """Score every forecast of ``key`` (all series when None) whose target candle has arrived."""
    with sessions.begin() as session:
        return evaluate_matured(session, key)


def days_to_forecast(
    sessions: sessionmaker[Session], key: SeriesKey, as_of: datetime | None, catch_up_days: int, run_kind: str
) -> list[datetime]:
    """The as-of days the job owes a forecast set for, oldest first.

    The target is ``as_of``, or the newest stored candle. Days between the last day that has
    forecasts and the target (at most ``catch_up_days`` back) are caught up, when their candle
    is stored; a series that was never forecast starts at the target alone.
    """
    with sessions() as session:
        newest = stored_range(session, key).last
        target = as_of or newest
        if target is None:
            raise InputError(f"no candles of {key}: ingest first")
        last_done = session.scalar(
            select(func.max(Forecast.as_of)).where(
                of_series(Forecast, key),
                Forecast.run_kind == run_kind,
                Forecast.as_of <= target,
            )
        )
        start = target if last_done is None else max(as_utc(last_done), target - timedelta(days=catch_up_days))
        stored = load_candles(session, key, start=start, end=target)["ts"]
        done = forecast_days(session, key, run_kind, start, target)
    days = [ts.to_pydatetime() for ts in stored if ts.to_pydatetime() not in done]
    if as_of is not None and pd.Timestamp(as_of) not in set(stored):
        raise InputError(f"no candle of {key} for {as_of:%Y-%m-%d}: ingest it first, or pick a stored day")
    return days
