"""Checkpoint bytes in the database, with each machine's ``FORECASTER_DATA_DIR/checkpoints`` as a cache.

The registry lives in the database, and so do the checkpoints (table ``checkpoints``): a worker on
any machine that reaches the database loads every model version, whatever machine trained it.
A version's ``checkpoint_path`` is its key in the local cache (``exchange/BASE-QUOTE/timeframe/
<as-of>-<mode>-<unique>.ckpt``, relative to the cache folder).

Loading takes the cached file when its sha256 is the registered one; otherwise (absent, or changed)
it reads the bytes from the database, checks their sha256, writes the cache file atomically and
loads those. A version registered before the store (an absolute ``checkpoint_path`` whose file the
migration could not read) loads from that path only, and fails clearly elsewhere.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db.models import Checkpoint, ModelVersion
from forecaster.registry.checkpoint import (
    CheckpointError,
    CheckpointPruned,
    check_sha256,
    read_checkpoint_file,
    write_atomically,
)

log = logging.getLogger(__name__)


def is_cache_key(checkpoint_path: str) -> bool:
    """True for a key into the cache; False for the absolute path of a version from before the store."""
    return not Path(checkpoint_path).is_absolute()


def local_file(version: ModelVersion, cache_dir: Path | None) -> Path | None:
    """Where this machine keeps ``version``'s checkpoint file: its cache file (None without a cache
    folder), or the absolute path of a version registered before the store."""
    if not is_cache_key(version.checkpoint_path):
        return Path(version.checkpoint_path)
    return None if cache_dir is None else cache_dir / version.checkpoint_path


def checkpoint_data(sessions: sessionmaker[Session], version: ModelVersion, cache_dir: Path | None) -> bytes:
    """The checkpoint bytes of ``version``, their sha256 checked: from the cache, else the database.

    A cache file that is absent or differs from the registered sha256 is (re)written from the
    database. Raises ``CheckpointPruned`` for a pruned version, ``CheckpointError`` when no intact
    copy exists.
    """
    if version.pruned_at is not None:
        raise _pruned(version.id, version.pruned_at)
    local = local_file(version, cache_dir)
    local_problem: CheckpointError | None = None
    if local is not None:
        try:
            return read_checkpoint_file(local, version.checkpoint_sha256)
        except CheckpointError as exc:
            local_problem = exc
            if local.exists():
                log.warning("%s; loading model version %s from the database", exc, version.id)
    data = _stored(sessions, version.id)
    if data is None:
        raise local_problem or CheckpointError(f"model version {version.id} has no stored checkpoint")
    check_sha256(data, version.checkpoint_sha256, source=f"of model version {version.id} in the database")
    if local is not None and is_cache_key(version.checkpoint_path):
        _write_cache(local, data)
    return data


def store_checkpoint(session: Session, version_id: int, data: bytes, sha256: str) -> None:
    """Add the checkpoint bytes of ``version_id`` to ``session`` (committed with the version's row)."""
    session.add(Checkpoint(model_version_id=version_id, sha256=sha256, size=len(data), data=data))


def _stored(sessions: sessionmaker[Session], version_id: int) -> bytes | None:
    """The stored bytes of ``version_id``; None when none are stored. A version pruned since it was
    read raises ``CheckpointPruned``."""
    with sessions() as session:
        row = session.execute(
            select(ModelVersion.pruned_at, Checkpoint.data)
            .outerjoin(Checkpoint, Checkpoint.model_version_id == ModelVersion.id)
            .where(ModelVersion.id == version_id)
        ).first()
    if row is None:
        raise CheckpointError(f"model version {version_id} is not registered in this database")
    if row.pruned_at is not None:
        raise _pruned(version_id, row.pruned_at)
    return None if row.data is None else bytes(row.data)


def _write_cache(path: Path, data: bytes) -> None:
    """Keep a copy in the local cache; a cache that cannot be written only costs the next load a fetch."""
    try:
        write_atomically(path, data)
    except OSError as exc:
        log.warning("cannot write the checkpoint cache file %s: %s", path, exc.strerror or exc)


def _pruned(version_id: int, when: datetime) -> CheckpointPruned:
    return CheckpointPruned(
        f"model version {version_id} was pruned on {when:%Y-%m-%d} by the retention policy "
        "(forecaster registry prune): its checkpoint is deleted"
    )
