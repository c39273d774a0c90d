"""The model registry: a ``model_versions`` row and its checkpoint's bytes, committed together.

The checkpoint's bytes go into ``checkpoints`` in the same transaction as the version's row, so
every worker that reaches the database can load it (``forecaster.registry.store``); a crash before
the commit leaves neither. The local cache file (``<cache>/<checkpoint_path>``) is written first,
atomically (temporary file, then rename): a crash after it leaves at most an unregistered file,
which nothing loads, since loading goes through the registry and checks the registered sha256. A
crash while writing leaves a temporary file, removed by the next registration in that folder once it
is an hour old. Unregistered files are left on disk: a data directory may serve several databases,
and a checkpoint missing from this database's registry may be another's.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db.integrity import violates_unique
from forecaster.db.models import ModelVersion
from forecaster.model.artifact import TrainedModel
from forecaster.registry.checkpoint import checkpoint_bytes, model_from_bytes, remove_stale_temp_files, write_atomically
from forecaster.registry.store import checkpoint_data, store_checkpoint
from forecaster.series import SeriesKey, of_series

# One version per series, run kind and as-of day (``ModelVersion.__table_args__``).
DAY_CONSTRAINT = "uq_model_versions_day"


def checkpoint_key(key: SeriesKey, model: TrainedModel) -> str:
    """The checkpoint's key in each machine's cache: ``exchange/BASE-QUOTE/timeframe/<as-of>-<mode>-<unique>.ckpt``."""
    folder = f"{key.exchange}/{key.symbol.replace('/', '-').replace(':', '_')}/{key.timeframe}"
    return f"{folder}/{model.train_end:%Y%m%d}-{model.mode}-{uuid.uuid4().hex[:8]}.ckpt"


def save_and_register(
    sessions: sessionmaker[Session],
    root: Path,
    key: SeriesKey,
    model: TrainedModel,
    *,
    run_kind: str,
    parent_id: int | None,
    run_id: int | None,
    manifest: dict[str, Any],
) -> ModelVersion:
    """Register ``model``: its row and its checkpoint's bytes in one transaction, after the cache file
    under ``root`` (the cache folder); a failed registration removes the file again.

    One version per series, run kind and as-of day: when a concurrent run registered that day
    first (the violation of ``uq_model_versions_day``, and only that), its version is returned and this
    checkpoint removed. Any other integrity error (a parent or run that does not exist) is raised.
    """
    data = checkpoint_bytes(model)
    sha256 = hashlib.sha256(data).hexdigest()
    cache_key = checkpoint_key(key, model)
    path = root / cache_key
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path.parent)
    write_atomically(path, data)
    version = ModelVersion(
        exchange=key.exchange,
        symbol=key.symbol,
        timeframe=key.timeframe,
        run_kind=run_kind,
        created_at=datetime.now(UTC),
        mode=model.mode,
        parent_id=parent_id,
        run_id=run_id,
        train_start=model.train_start.to_pydatetime(),
        train_end=model.train_end.to_pydatetime(),
        hyperparameters={
            "model": model.model_config.model_dump(mode="json"),
            "train": model.train_config.model_dump(mode="json"),
        },
        train_loss=_finite(model.train_loss),
        val_loss=_finite(model.val_loss),
        epochs=model.epochs,
        duration_s=model.seconds,
        checkpoint_path=cache_key,
        checkpoint_sha256=sha256,
        manifest=manifest,
    )
    try:
        with sessions.begin() as session:
            session.add(version)
            session.flush()
            store_checkpoint(session, version.id, data, sha256)
    except IntegrityError as exc:
        path.unlink(missing_ok=True)
        if not violates_unique(exc, ModelVersion.__table__, DAY_CONSTRAINT):  # type: ignore[arg-type]
            raise
        with sessions() as session:
            winner = session.scalars(
                select(ModelVersion).where(
                    of_series(ModelVersion, key),
                    ModelVersion.run_kind == run_kind,
                    ModelVersion.train_end == version.train_end,
                )
            ).one()
        return winner
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return version


def latest_version(
    session: Session, key: SeriesKey, run_kind: str, as_of: datetime | None = None
) -> ModelVersion | None:
    """The newest version of the ``run_kind`` lineage trained on data up to ``as_of`` (any, when None)."""
    query = select(ModelVersion).where(
        of_series(ModelVersion, key),
        ModelVersion.run_kind == run_kind,
    )
    if as_of is not None:
        query = query.where(ModelVersion.train_end <= as_of)
    return session.scalars(query.order_by(ModelVersion.train_end.desc(), ModelVersion.id.desc()).limit(1)).first()


def load_version(sessions: sessionmaker[Session], version: ModelVersion, cache_dir: Path | None = None) -> TrainedModel:
    """Load a registered model: the cache file under ``cache_dir`` when intact, else the bytes stored in
    the database (then cached; ``None``: no cache). Refused (``CheckpointError``) when no copy has the
    registered sha256; ``CheckpointPruned`` when the retention policy deleted it."""
    data = checkpoint_data(sessions, version, cache_dir)
    return model_from_bytes(data, source=f"of model version {version.id}")


def _finite(value: float) -> float | None:
    return None if pd.isna(value) else float(value)
