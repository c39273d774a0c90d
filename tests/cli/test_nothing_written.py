"""Every option is read before the database is opened: a bad one is one line and not even the schema is
created."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SERIES = ["-e", "binance", "-s", "BTC/USDT"]


@pytest.mark.parametrize("command", ["train", "forecast", "report"])
def test_an_unreadable_job_file_creates_no_database(command, tmp_path: Path):
    database = tmp_path / "untouched.db"
    args = [command, *SERIES, "--job", str(tmp_path / "absent.yaml"), "--database-url", f"sqlite:///{database}"]
    result = subprocess.run(
        [sys.executable, "-c", "from flows.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("error: --job ") and "cannot read it" in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1
    assert not database.exists()
