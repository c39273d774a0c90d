"""Every command's failure path through the installed console script: a non-zero exit, one line, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FORECASTER = Path(sys.executable).parent / "forecaster"
UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:9/nowhere"

pytestmark = pytest.mark.slow  # the installed console script, a process per test


def forecaster(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    if not FORECASTER.exists():
        pytest.skip(f"the forecaster console script is not installed beside {sys.executable}")
    env = {name: value for name, value in os.environ.items() if not name.startswith("FORECASTER_")}
    return subprocess.run([str(FORECASTER), *args], capture_output=True, text=True, cwd=cwd, timeout=300, env=env)


def test_run_exits_1_when_its_flow_fails(tmp_path):
    result = forecaster("run", "--exchange", "demo", "--symbols", "NOPE/USDT", cwd=tmp_path)  # not served
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 of 1 series failed: demo NOPE/USDT 1d" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--exchange", "demo"],
        ["ingest", "--exchange", "binance", "--symbols", "BTC/USDT"],
        ["import-csv", "candles.csv", "--exchange", "binance", "--symbol", "BTC/USDT"],
        ["train", "--exchange", "binance", "--symbol", "BTC/USDT"],
        ["forecast", "--exchange", "binance", "--symbol", "BTC/USDT"],
        ["evaluate"],
        ["report", "--exchange", "binance", "--symbol", "BTC/USDT"],
        ["backtest", "-e", "binance", "-s", "BTC/USDT", "--start", "2024-06-01", "--end", "2024-06-30"],
        ["db", "upgrade"],
    ],
    ids=lambda args: args[0] if args[0] != "db" else "db-upgrade",
)
def test_an_unreachable_database_is_one_line_and_exit_1(args, tmp_path):
    (tmp_path / "candles.csv").write_text("timestamp,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,10\n")
    result = forecaster(*args, "--database-url", UNREACHABLE, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "nobody" in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_an_unknown_option_exits_2(tmp_path):
    result = forecaster("ingest", "--no-such-option", cwd=tmp_path)
    assert result.returncode == 2 and "No such option" in result.stderr
