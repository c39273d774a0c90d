"""Save and load a ``TrainedModel`` as a hashed, atomically written torch file of plain data.

The payload holds only tensors and primitive containers (configs as ``model_dump(mode="json")``
dicts, timestamps as ISO strings), so it loads with ``weights_only=True`` and never runs
pickled code. Loading checks the SHA-256 first, maps every tensor to the CPU (a GPU-trained
model loads anywhere) and refuses anything else with ``CheckpointError``.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from pydantic import ValidationError

from forecaster.model.artifact import TrainedModel
from forecaster.model.config import ModelConfig, TrainConfig

FORMAT = "forecaster.model.checkpoint/1"
# A temporary file older than this belongs to a writer that died (a checkpoint takes well under a
# second to write); younger ones may be another process's checkpoint in the making.
STALE_TEMP_SECONDS = 3600.0


_TEMP_SUFFIX = ".tmp"


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, tampered with, or not a forecaster model."""


class CheckpointPruned(CheckpointError):
    """The retention policy deleted this model version's checkpoint (``forecaster registry prune``)."""


def _payload(model: TrainedModel) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "state_dict": dict(model.state_dict),
        "model_config": model.model_config.model_dump(mode="json"),
        "train_config": model.train_config.model_dump(mode="json"),
        "scaler": dict(model.scaler_state),
        "interval_lower": list(model.interval_lower),
        "interval_upper": list(model.interval_upper),
        "train_start": model.train_start.isoformat(),
        "train_end": model.train_end.isoformat(),
        "last_full_end": model.last_full_end.isoformat(),
        "train_loss": model.train_loss,
        "val_loss": model.val_loss,
        "epochs": model.epochs,
        "seconds": model.seconds,
        "seed": model.seed,
        "mode": model.mode,
        "train_loss_history": list(model.train_loss_history),
        "val_loss_history": list(model.val_loss_history),
        "shrink": list(model.shrink),
        "interval_source": model.interval_source,
        "interval_basis": model.interval_basis,
    }


def checkpoint_bytes(model: TrainedModel) -> bytes:
    """The checkpoint of ``model``, as the bytes ``save_checkpoint`` writes and the registry stores."""
    buffer = io.BytesIO()
    torch.save(_payload(model), buffer)
    return buffer.getvalue()


def save_checkpoint(model: TrainedModel, path: Path) -> str:
    """Write ``model`` to ``path`` atomically (temp file, fsync, ``os.replace``); return its SHA-256 hex."""
    data = checkpoint_bytes(model)
    write_atomically(path, data)
    return hashlib.sha256(data).hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a synced temporary file and ``os.replace``: readers see the
    old file or the whole new one, never part of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_stale_temp_files(folder: Path, older_than_s: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete the temporary files that writers killed mid-write left in ``folder``; returns them.

    Only ``save_checkpoint``'s own temporary names (``.<name>.ckpt.<random>.tmp``) older than
    ``older_than_s`` seconds are touched; nothing ever loads them, so this only reclaims space.
    """
    removed = []
    cutoff = time.time() - older_than_s
    for path in folder.glob(f".*.ckpt.*{_TEMP_SUFFIX}"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue  # another process cleaned it first
    return removed


def load_checkpoint(path: Path, expected_sha256: str | None = None) -> TrainedModel:
    """Load a checkpoint written by ``save_checkpoint``, checking its SHA-256 first when given."""
    return model_from_bytes(read_checkpoint_file(path, expected_sha256), source=str(path))


def read_checkpoint_file(path: Path, expected_sha256: str | None = None) -> bytes:
    """The bytes of the checkpoint file ``path``, refused when they differ from ``expected_sha256``."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from exc
    check_sha256(data, expected_sha256, source=str(path))
    return data


def check_sha256(data: bytes, expected_sha256: str | None, *, source: str) -> None:
    """Refuse ``data`` (read from ``source``) unless its SHA-256 is ``expected_sha256`` (None: any)."""
    actual = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and actual != expected_sha256.lower():
        raise CheckpointError(
            f"checkpoint {source} has sha256 {actual}, expected {expected_sha256}: it was changed or replaced"
        )


def model_from_bytes(data: bytes, *, source: str) -> TrainedModel:
    """The model in a checkpoint's bytes (``source`` names where they came from, for the errors)."""
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        raise CheckpointError(f"checkpoint {source} is corrupt or truncated: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {source} is not a forecaster model checkpoint (format {FORMAT} expected)")
    try:
        return _model(payload)
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise CheckpointError(f"checkpoint {source} is incomplete or invalid: {exc}") from exc


def _model(payload: dict[str, Any]) -> TrainedModel:
    if payload["mode"] not in ("full", "finetune"):
        raise ValueError(f"unknown training mode {payload['mode']!r}")
    return TrainedModel(
        state_dict=dict(payload["state_dict"]),
        model_config=ModelConfig.model_validate(payload["model_config"]),
        train_config=TrainConfig.model_validate(payload["train_config"]),
        scaler_state=dict(payload["scaler"]),
        interval_lower=tuple(float(v) for v in payload["interval_lower"]),
        interval_upper=tuple(float(v) for v in payload["interval_upper"]),
        train_start=pd.Timestamp(payload["train_start"]),
        train_end=pd.Timestamp(payload["train_end"]),
        last_full_end=pd.Timestamp(payload["last_full_end"]),
        train_loss=float(payload["train_loss"]),
        val_loss=float(payload["val_loss"]),
        epochs=int(payload["epochs"]),
        seconds=float(payload["seconds"]),
        seed=int(payload["seed"]),
        mode=payload["mode"],
        train_loss_history=tuple(float(v) for v in payload["train_loss_history"]),
        val_loss_history=tuple(float(v) for v in payload["val_loss_history"]),
        shrink=tuple(float(v) for v in payload.get("shrink", ())),  # absent in checkpoints before shrinkage
        # absent in checkpoints before normalised intervals: their quantiles are of plain log residuals
        interval_source=str(payload.get("interval_source", "validation")),
        interval_basis=str(payload.get("interval_basis", "flat")),
    )
