"""The checkpoint store: bytes in the database with the row, each machine's data dir a verified cache."""

from __future__ import annotations

import hashlib
import logging
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import torch
from alembic import command
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db.engine import make_engine, session_factory
from forecaster.db.migrate import _config, upgrade
from forecaster.db.models import Checkpoint, ModelVersion
from forecaster.model import TrainedModel
from forecaster.registry.checkpoint import CheckpointError, checkpoint_bytes, save_checkpoint
from forecaster.registry.versions import load_version, save_and_register
from forecaster.series import SeriesKey

KEY = SeriesKey("binance", "BTC/USDT", "1d")


def register(sessions: sessionmaker[Session], cache: Path, model: TrainedModel) -> ModelVersion:
    return save_and_register(
        sessions, cache, KEY, model, run_kind="live", parent_id=None, run_id=None, manifest={"test": True}
    )


def same_weights(a: TrainedModel, b: TrainedModel) -> bool:
    return a.state_dict.keys() == b.state_dict.keys() and all(
        torch.equal(a.state_dict[name], b.state_dict[name]) for name in a.state_dict
    )


def count(sessions: sessionmaker[Session], table: type) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def test_the_bytes_are_stored_with_the_row_and_a_cache_miss_loads_them_from_the_database(
    sessions, tiny_model, tmp_path
):
    trainer, other = tmp_path / "trainer" / "checkpoints", tmp_path / "other" / "checkpoints"
    version = register(sessions, trainer, tiny_model)
    assert not Path(version.checkpoint_path).is_absolute()
    assert version.checkpoint_path.startswith(f"binance/BTC-USDT/1d/{tiny_model.train_end:%Y%m%d}-full-")
    with sessions() as session:
        stored = session.get_one(Checkpoint, version.id)
    assert stored.sha256 == version.checkpoint_sha256 == hashlib.sha256(stored.data).hexdigest()
    assert stored.size == len(stored.data) == (trainer / version.checkpoint_path).stat().st_size

    (trainer / version.checkpoint_path).unlink()  # the trainer's disk is not this machine's
    loaded = load_version(sessions, version, other)
    assert same_weights(loaded, tiny_model) and loaded.train_end == tiny_model.train_end
    cached = other / version.checkpoint_path
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == version.checkpoint_sha256
    assert not list(other.rglob("*.tmp"))  # written atomically
    assert same_weights(load_version(sessions, version), tiny_model)  # no cache folder at all: the database


def test_a_tampered_cache_file_is_refused_and_fetched_again(sessions, tiny_model, tmp_path, caplog):
    cache = tmp_path / "checkpoints"
    version = register(sessions, cache, tiny_model)
    path = cache / version.checkpoint_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="forecaster.registry.store"):
        loaded = load_version(sessions, version, cache)
    assert same_weights(loaded, tiny_model)
    assert "it was changed or replaced; loading model version" in caplog.text
    assert hashlib.sha256(path.read_bytes()).hexdigest() == version.checkpoint_sha256  # the cache is repaired


def test_tampered_database_bytes_are_refused(sessions, tiny_model, tmp_path):
    cache = tmp_path / "checkpoints"
    version = register(sessions, cache, tiny_model)
    (cache / version.checkpoint_path).unlink()
    with sessions.begin() as session:
        stored = session.get_one(Checkpoint, version.id)
        stored.data = stored.data + b"\0"
    with pytest.raises(CheckpointError, match=f"of model version {version.id} in the database .* changed or replaced"):
        load_version(sessions, version, cache)
    assert not (cache / version.checkpoint_path).exists()  # nothing refused is cached


CRASH = r"""
import os, signal, sys
from pathlib import Path
from sqlalchemy import Engine, event

url, checkpoint, cache, table = sys.argv[1:]

def after(conn, cursor, statement, *args):
    if statement.lstrip().startswith(f"INSERT INTO {table} "):
        os.kill(os.getpid(), signal.SIGKILL)  # the INSERT ran inside the transaction, not committed

event.listen(Engine, "after_cursor_execute", after)

from forecaster.db.engine import make_engine, session_factory
from forecaster.registry.checkpoint import load_checkpoint
from forecaster.registry.versions import save_and_register
from forecaster.series import SeriesKey

key = SeriesKey("binance", "BTC/USDT", "1d")
sessions = session_factory(make_engine(url))
model = load_checkpoint(Path(checkpoint))
save_and_register(sessions, Path(cache), key, model, run_kind="live", parent_id=None, run_id=None, manifest={})
"""


@pytest.mark.slow  # a process of its own, killed
def test_a_registration_killed_before_its_commit_leaves_neither_row_nor_bytes(
    database_url, sessions, tiny_model, tmp_path
):
    """Killed after both INSERTs ran (the row's, then the bytes'), before the commit."""
    source = tmp_path / "model.ckpt"
    save_checkpoint(tiny_model, source)
    cache = tmp_path / "checkpoints"
    killed = subprocess.run(
        [sys.executable, "-c", CRASH, database_url, str(source), str(cache), "checkpoints"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert count(sessions, ModelVersion) == 0 and count(sessions, Checkpoint) == 0
    (orphan,) = cache.rglob("*.ckpt")  # the cache file, written first: unregistered, never loaded

    version = register(sessions, cache, tiny_model)  # the next run registers cleanly
    assert version.checkpoint_path != orphan.relative_to(cache).as_posix()
    assert count(sessions, ModelVersion) == 1 and count(sessions, Checkpoint) == 1
    assert same_weights(load_version(sessions, version, tmp_path / "elsewhere"), tiny_model)


def old_version(version_id: int, path: Path, sha256: str) -> dict[str, object]:
    """A model_versions row as registered before the store: the absolute path of its file."""
    now = datetime(2024, 6, 30, tzinfo=UTC)
    return {
        "id": version_id,
        "exchange": KEY.exchange,
        "symbol": KEY.symbol,
        "timeframe": KEY.timeframe,
        "run_kind": "live",
        "created_at": now,
        "mode": "full",
        "train_start": now,
        "train_end": now.replace(day=version_id),
        "hyperparameters": {},
        "epochs": 1,
        "duration_s": 1.0,
        "checkpoint_path": str(path.resolve()),
        "checkpoint_sha256": sha256,
        "manifest": {},
    }


def test_the_migration_stores_the_readable_files_and_old_paths_keep_working(empty_url, tiny_model, tmp_path):
    engine = make_engine(empty_url)
    upgrade(engine, "0002")
    folder = tmp_path / "trainer" / "checkpoints" / "binance" / "BTC-USDT" / "1d"
    readable, elsewhere, changed = folder / "a.ckpt", tmp_path / "gone" / "b.ckpt", folder / "c.ckpt"
    digest = save_checkpoint(tiny_model, readable)
    save_checkpoint(tiny_model, changed)
    rows = [old_version(1, readable, digest), old_version(2, elsewhere, digest), old_version(3, changed, digest)]
    changed.write_bytes(changed.read_bytes() + b"\0")
    with engine.begin() as conn:
        conn.execute(insert(ModelVersion.__table__), rows)

    upgrade(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        versions = {version.id: version for version in session.scalars(select(ModelVersion))}
        stored = set(session.scalars(select(Checkpoint.model_version_id)))
    assert stored == {1}
    assert versions[1].checkpoint_path == "binance/BTC-USDT/1d/a.ckpt"  # now a cache key
    assert versions[2].checkpoint_path == str(elsewhere.resolve())  # stays referenced by its path
    assert versions[3].checkpoint_path == str(changed.resolve())

    assert same_weights(load_version(sessions, versions[1], tmp_path / "other"), tiny_model)
    with pytest.raises(CheckpointError, match=f"cannot read checkpoint {elsewhere.resolve()}"):
        load_version(sessions, versions[2], tmp_path / "other")
    save_checkpoint(tiny_model, elsewhere)  # the machine that has the file still loads it from there
    assert same_weights(load_version(sessions, versions[2], tmp_path / "other"), tiny_model)
    with pytest.raises(CheckpointError, match="it was changed or replaced"):
        load_version(sessions, versions[3], tmp_path / "other")

    with engine.begin() as conn, pytest.raises(RuntimeError, match="1 model versions keep their checkpoint only"):
        config = _config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0002")
    engine.dispose()


def test_checkpoint_bytes_are_what_save_checkpoint_writes(tiny_model, tmp_path):
    digest = save_checkpoint(tiny_model, tmp_path / "m.ckpt")
    data = checkpoint_bytes(tiny_model)
    assert hashlib.sha256(data).hexdigest() == digest and (tmp_path / "m.ckpt").read_bytes() == data
