from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
import torch

from forecaster.model import TrainedModel, forecast
from forecaster.model.train import seed_everything, train
from forecaster.registry.checkpoint import (
    CheckpointError,
    checkpoint_bytes,
    load_checkpoint,
    model_from_bytes,
    save_checkpoint,
)
from tests.support.tiny import TINY_MODEL, TINY_TRAIN


def test_round_trip_gives_identical_predictions(
    tmp_path: Path, tiny_model: TrainedModel, candles: pd.DataFrame, as_of: pd.Timestamp
) -> None:
    path = tmp_path / "sub" / "model.pt"
    digest = save_checkpoint(tiny_model, path)
    assert len(digest) == 64 and not list(path.parent.glob("*.tmp"))
    loaded = load_checkpoint(path, digest)
    pd.testing.assert_frame_equal(forecast(loaded, candles, as_of), forecast(tiny_model, candles, as_of))
    for field in ("model_config", "train_config", "scaler_state", "interval_lower", "train_start", "mode"):
        assert getattr(loaded, field) == getattr(tiny_model, field)
    assert loaded.val_loss_history == tiny_model.val_loss_history
    assert load_checkpoint(path).train_end == tiny_model.train_end


def test_truncated_or_corrupt_file(tmp_path: Path, tiny_model: TrainedModel) -> None:
    path = tmp_path / "model.pt"
    save_checkpoint(tiny_model, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)


def test_tampered_file_fails_the_hash(tmp_path: Path, tiny_model: TrainedModel) -> None:
    path = tmp_path / "model.pt"
    digest = save_checkpoint(tiny_model, path)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=f"expected {digest}: it was changed or replaced"):
        load_checkpoint(path, digest)


def test_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "absent.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="not a forecaster model checkpoint"):
        load_checkpoint(foreign)


def test_checkpoint_without_quantile_keys_still_loads(
    tiny_model: TrainedModel, candles: pd.DataFrame, as_of: pd.Timestamp
) -> None:
    """A checkpoint of before the quantile head: its model_config has no ``quantile_head``."""
    payload = torch.load(io.BytesIO(checkpoint_bytes(tiny_model)), weights_only=True)
    del payload["model_config"]["quantile_head"]
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    loaded = model_from_bytes(buffer.getvalue(), source="old")
    assert loaded.model_config.quantile_head is False and loaded.model_config == tiny_model.model_config
    pd.testing.assert_frame_equal(forecast(loaded, candles, as_of), forecast(tiny_model, candles, as_of))


def test_quantile_model_round_trip(tmp_path: Path, candles: pd.DataFrame, as_of: pd.Timestamp) -> None:
    cfg = TINY_MODEL.model_copy(update={"quantile_head": True, "interval_scale": "quantile"})
    seed_everything(5)
    model = train(candles, as_of, cfg, TINY_TRAIN)
    loaded = load_checkpoint(tmp_path / "q.pt", save_checkpoint(model, tmp_path / "q.pt"))
    assert loaded.model_config.quantile_head and loaded.interval_basis == "quantile"
    pd.testing.assert_frame_equal(forecast(loaded, candles, as_of), forecast(model, candles, as_of))
