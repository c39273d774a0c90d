"""Manifests: what a model version or run was made from, so that it can be reproduced."""

from __future__ import annotations

import hashlib
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from forecaster import __version__

LIBRARIES = ("torch", "pytorch-lightning", "ccxt", "prefect", "pandas", "numpy", "sqlalchemy")


def candles_hash(candles: pd.DataFrame) -> str:
    """sha256 of the candles' open times and values, independent of the frame's dtypes."""
    digest = hashlib.sha256()
    digest.update(candles["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S").str.cat(sep=",").encode())
    values = candles[["open", "high", "low", "close", "volume"]].to_numpy(dtype="float64")
    digest.update(values.tobytes())
    return digest.hexdigest()


@cache
def code_version() -> str:
    """The package version, with the git commit when running from a checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{commit}"


def library_versions() -> dict[str, str]:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    return found


def build_manifest(candles: pd.DataFrame | None = None, *, seed: int | None = None, **extra: Any) -> dict[str, Any]:
    """A JSON-ready manifest: candle range and hash, code and library versions, seed."""
    manifest: dict[str, Any] = {"code_version": code_version(), "libraries": library_versions(), "seed": seed}
    if candles is not None and not candles.empty:
        manifest["candles"] = {
            "first": candles["ts"].iloc[0].isoformat(),
            "last": candles["ts"].iloc[-1].isoformat(),
            "count": len(candles),
            "sha256": candles_hash(candles),
        }
    return manifest | extra
