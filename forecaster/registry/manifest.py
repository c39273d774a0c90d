"""Manifests: what a model version or run was made from, so that it can be reproduced."""

from __future__ import annotations

import hashlib
import subprocess
import tomllib
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from forecaster import __version__

PROJECT = "forecaster"
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
    """The package's version, with the git commit (``0.1.0+g1a2b3c4``) only when the package is its own
    checkout; installed inside another project's checkout, that project's commit says nothing about it."""
    commit = own_checkout_commit(Path(__file__).resolve().parents[1])
    return f"{__version__}+g{commit}" if commit else __version__


def own_checkout_commit(package_dir: Path) -> str | None:
    """The short commit of the git checkout whose root holds ``package_dir`` and a ``pyproject.toml`` of the
    project named forecaster; None anywhere else (a wheel in site-packages, a copy inside another repo)."""
    root = package_dir.parent
    if not _is_forecaster_project(root / "pyproject.toml"):
        return None
    toplevel = _git(root, "rev-parse", "--show-toplevel")
    if toplevel is None or Path(toplevel).resolve() != root.resolve():
        return None
    return _git(root, "rev-parse", "--short", "HEAD")


def _is_forecaster_project(pyproject: Path) -> bool:
    try:
        project = tomllib.loads(pyproject.read_text()).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return isinstance(project, dict) and project.get("name") == PROJECT


def _git(where: Path, *args: str) -> str | None:
    """One git command's output in ``where``; None when git is absent or fails."""
    try:
        done = subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


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
