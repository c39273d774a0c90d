"""The train step: fit (full, fine-tune, or as the auto policy decides) and register a model version."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db.locks import advisory_lock
from forecaster.db.models import ModelVersion
from forecaster.errors import InputError
from forecaster.model.artifact import TrainedModel
from forecaster.model.policy import choose_mode, parent_val_loss
from forecaster.model.train import seed_everything, train
from forecaster.pipeline.config import JobConfig, TrainMode
from forecaster.pipeline.inputs import TORCH_TURN, read_history
from forecaster.registry.checkpoint import CheckpointError
from forecaster.registry.manifest import build_manifest
from forecaster.registry.versions import latest_version, load_version, save_and_register
from forecaster.series import SeriesKey, of_series
from forecaster.timeframes import require_daily

# ``train``'s signature: ``fit(candles, as_of, model_cfg, train_cfg, parent=...)``
Fit = Callable[..., TrainedModel]


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


def train_step(
    sessions: sessionmaker[Session],
    key: SeriesKey,
    as_of: datetime,
    mode: TrainMode,
    config: JobConfig,
    checkpoint_dir: Path,
    *,
    run_id: int | None = None,
    fit: Fit = train,
) -> TrainOutcome:
    """Train the model for ``as_of`` (full, fine-tune, or as the auto policy decides) and register it.

    ``fit`` makes the fit (``train``; a backtest passes ``ahead.FullRetrainsAhead``, which may have made it).

    One trainer per series at a time: the fit and its registration hold this process's torch turn
    and the series' lock (``forecaster.db.locks``), and whoever comes second finds the version of
    the day already registered and reuses it instead of training again.
    """
    require_daily(key.timeframe)
    done = _already_trained(sessions, key, as_of, config.run_kind)
    if done is not None:
        return done
    candles = read_history(sessions, key, as_of, config.history_days)
    if candles.empty:
        raise InputError(f"no candles of {key} up to {as_of:%Y-%m-%d}: ingest first")
    with TORCH_TURN, advisory_lock(sessions, f"forecaster train {key} {config.run_kind}"):
        done = _already_trained(sessions, key, as_of, config.run_kind)  # by a run we waited for
        if done is not None:
            return done
        with sessions() as session:
            parent_row = latest_version(session, key, config.run_kind, as_of)
        parent, chosen, reason = _choose(sessions, checkpoint_dir, parent_row, candles, as_of, mode, config)
        seed_everything(config.train.seed)  # the entry of this training run: the same seed, the same weights
        model = fit(candles, pd.Timestamp(as_of), config.model, config.train, parent=parent)
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
    sessions: sessionmaker[Session],
    checkpoint_dir: Path,
    parent_row: ModelVersion | None,
    candles: pd.DataFrame,
    as_of: datetime,
    mode: TrainMode,
    config: JobConfig,
) -> tuple[TrainedModel | None, str, str]:
    """The parent to start from (None: train in full), the mode and the reason."""
    if mode == "full":
        return None, "full", "asked for a full retrain"
    if parent_row is None:
        if mode == "finetune":
            raise InputError("no model to fine-tune yet: train with --mode full or auto first")
        return None, "full", "no parent model"
    try:
        parent = load_version(sessions, parent_row, checkpoint_dir)
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
