"""The manifest's code version: the package's version, plus the git commit only when the package is its
own checkout, never the commit of another project that happens to hold it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from forecaster import __version__
from forecaster.registry.manifest import code_version, own_checkout_commit

ROOT = Path(__file__).resolve().parents[2]
GIT = ["git", "-c", "user.email=test@example.invalid", "-c", "user.name=test", "-c", "commit.gpgsign=false"]


def git(where: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=where, capture_output=True, text=True, check=True).stdout.strip()


def repository(path: Path, project: str, package_at: str) -> Path:
    """A git repository of ``project`` with one commit, holding a ``forecaster`` package at ``package_at``."""
    path.mkdir()
    git(path, "init", "-q")
    (path / "pyproject.toml").write_text(f'[project]\nname = "{project}"\nversion = "9.9.9"\n')
    package = path / package_at / "forecaster"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first")
    return package


@pytest.fixture(scope="module", autouse=True)
def _git_available() -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")


def test_in_its_own_checkout_the_commit_is_added():
    if own_checkout_commit(ROOT / "forecaster") is None:
        pytest.skip(f"{ROOT} is not a git checkout")
    assert code_version() == f"{__version__}+g{git(ROOT, 'rev-parse', '--short', 'HEAD')}"


def test_only_a_checkout_of_forecaster_with_the_package_at_its_root_counts(tmp_path):
    own = repository(tmp_path / "own", "forecaster", ".")
    assert own_checkout_commit(own) == git(own.parent, "rev-parse", "--short", "HEAD")
    assert own_checkout_commit(repository(tmp_path / "app", "trading-app", ".")) is None
    assert own_checkout_commit(repository(tmp_path / "vendored", "forecaster", "vendor")) is None
    assert own_checkout_commit(tmp_path / "site-packages" / "forecaster") is None


def test_installed_inside_another_projects_checkout_it_records_the_version_alone(tmp_path):
    other = repository(tmp_path / "other", "trading-app", "lib")
    shutil.rmtree(other)
    shutil.copytree(ROOT / "forecaster", other, ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        [sys.executable, "-c", "import forecaster.registry.manifest as m; print(m.__file__); print(m.code_version())"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(other.parent)},
    )
    assert result.returncode == 0, result.stderr
    where, version = result.stdout.strip().splitlines()
    assert Path(where).is_relative_to(other)  # the copy ran, not this checkout
    assert version == __version__
