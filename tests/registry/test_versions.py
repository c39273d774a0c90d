"""The model registry on a real database: register, find and load a version; one version a day; checked bytes."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch
from sqlalchemy import func, select

from forecaster.db.models import Checkpoint, ModelVersion
from forecaster.errors import InputError
from forecaster.model import TrainedModel, forecast
from forecaster.registry.checkpoint import CheckpointError
from forecaster.registry.versions import latest_version, load_version, save_and_register
from forecaster.series import SeriesKey

KEY = SeriesKey("binance", "BTC/USDT", "1d")


def version_count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(ModelVersion)) or 0


def test_a_registered_version_is_found_and_loads_to_the_same_model(
    sessions, tiny_model: TrainedModel, candles: pd.DataFrame, as_of: pd.Timestamp, tmp_path: Path
):
    registered = save_and_register(
        sessions, tmp_path, KEY, tiny_model, run_kind="live", parent_id=None, run_id=None, manifest={"seed": 7}
    )
    assert (tmp_path / registered.checkpoint_path).is_file()  # the cache file, keyed relative to the cache folder
    with sessions() as session:
        found = latest_version(session, KEY, "live")
        assert found is not None and found.id == registered.id
        assert latest_version(session, KEY, "backtest") is None
        assert latest_version(session, KEY, "live", as_of=(as_of - pd.Timedelta(days=1)).to_pydatetime()) is None
    assert (found.mode, found.epochs, found.manifest) == ("full", tiny_model.epochs, {"seed": 7})
    assert found.train_end == as_of.to_pydatetime() and found.val_loss == pytest.approx(tiny_model.val_loss)
    loaded = load_version(sessions, found, tmp_path)
    pd.testing.assert_frame_equal(forecast(loaded, candles, as_of), forecast(tiny_model, candles, as_of))


def test_a_second_registration_for_the_same_day_returns_the_first(registered, sessions, tmp_path):
    model = replace(load_version(sessions, registered, tmp_path / "checkpoints"), seconds=0.0)
    winner = save_and_register(
        sessions, tmp_path / "checkpoints", KEY, model, run_kind="live", parent_id=None, run_id=None, manifest={}
    )
    assert winner.id == registered.id
    assert version_count(sessions) == 1
    assert len(list(tmp_path.rglob("*.ckpt"))) == 1  # the loser's checkpoint is gone


def test_checkpoint_changed_after_registration_is_refused(registered, sessions, tmp_path):
    """A changed cache file is fetched again from the database; changed stored bytes are refused."""
    cache = tmp_path / "checkpoints"
    load_version(sessions, registered, cache)  # intact: loads
    path = cache / registered.checkpoint_path
    intact = path.read_bytes()
    data = bytearray(intact)
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    load_version(sessions, registered, cache)  # the changed cache file is refused, the stored bytes load
    assert path.read_bytes() == intact
    path.unlink()
    with sessions.begin() as session:
        session.get_one(Checkpoint, registered.id).data = bytes(data)
    with pytest.raises(CheckpointError, match="it was changed or replaced"):
        load_version(sessions, registered, cache)


def test_foreign_checkpoint_registered_under_its_own_hash_is_refused(registered, sessions, tmp_path):
    cache = tmp_path / "checkpoints"
    path = cache / registered.checkpoint_path
    torch.save({"format": "someone-else/1", "weights": torch.zeros(3)}, path)
    registered.checkpoint_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(CheckpointError, match="is not a forecaster model checkpoint"):
        load_version(sessions, registered, cache)
    torch.save({"format": "x", "code": InputError("pickled object")}, path)  # not weights-only
    registered.checkpoint_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_version(sessions, registered, cache)
