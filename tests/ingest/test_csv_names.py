"""``import-csv`` checks the exchange id and the symbol, offline, before it reads the file: a misspelled
name is one clear error and nothing is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from forecaster.db.models import Candle, IngestRun
from forecaster.errors import InputError
from forecaster.exchange.names import check_exchange_id, check_symbol
from forecaster.ingest.csv_import import import_csv
from forecaster.series import SeriesKey
from tests.conftest import DATA

CSV = "timestamp,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,10\n2024-01-02,1.5,2,1,1.2,5\n"

BAD = [
    (SeriesKey("binanse", "ETH/USDT"), "unknown exchange 'binanse': use a ccxt exchange id", "did you mean binance"),
    (
        SeriesKey("binance", "ETH/USTD"),
        "bad symbol 'ETH/USTD': unknown quote currency 'USTD'",
        "did you mean ETH/USDT?",
    ),
    (SeriesKey("binance", "ETHUSDT"), "bad symbol 'ETHUSDT': use ccxt's unified form BASE/QUOTE", "e.g. BTC/USDT"),
    (SeriesKey("binance", "eth/usdt"), "bad symbol 'eth/usdt': ccxt's unified codes are in capitals", "ETH/USDT"),
]


@pytest.mark.parametrize(("key", "message", "hint"), BAD)
def test_a_misspelled_exchange_or_symbol_is_refused_and_nothing_is_written(key, message, hint, sessions, tmp_path):
    path = tmp_path / "candles.csv"
    path.write_text(CSV)
    with pytest.raises(InputError, match="^" + message) as caught:
        import_csv(sessions, path, key)
    assert hint in str(caught.value)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Candle)) == 0
        assert session.scalar(select(func.count()).select_from(IngestRun)) == 0


def test_names_are_checked_before_the_file_is_read(sessions, tmp_path):
    with pytest.raises(InputError, match="unknown exchange 'binanse'"):
        import_csv(sessions, tmp_path / "absent.csv", SeriesKey("binanse", "ETH/USDT"))


@pytest.mark.parametrize(
    "symbol", ["BTC/USDT", "ETH/TUSD", "1000SHIB/USDT", "BTC/USDT:USDT", "BTC/USD:BTC-260327", "USDC.E/USDT", "A/B"]
)
def test_unified_symbols_pass(symbol):
    assert check_symbol(symbol) == symbol


@pytest.mark.parametrize("name", ["binance", "coinbase", "kraken", "okx", "demo"])
def test_ccxt_ids_and_demo_pass(name):
    assert check_exchange_id(name) == name


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--exchange", "binanse", "--symbol", "ETH/USDT"], "error: unknown exchange 'binanse'"),
        (["--exchange", "binance", "--symbol", "ETH/USTD"], "error: bad symbol 'ETH/USTD'"),
    ],
)
def test_the_command_refuses_them_in_one_line_and_creates_nothing(args, message, tmp_path: Path):
    csv = DATA / "ETHUSDT.csv"
    if not csv.exists():
        pytest.skip(f"real candles not found at {csv}")
    database = tmp_path / "names.db"
    args = ["import-csv", str(csv), *args, "--database-url", f"sqlite:///{database}"]
    result = subprocess.run(
        [sys.executable, "-c", "from flows.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert not database.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["train", "-e", "binanse", "-s", "ETH/USDT"],
        ["forecast", "-e", "binance", "-s", "ETH/USTD"],
        ["evaluate", "-e", "binanse", "-s", "ETH/USDT"],
        ["report", "-e", "binanse", "-s", "ETH/USDT"],
        ["backtest", "-e", "binance", "-s", "ETHUSDT", "--start", "2024-06-01", "--end", "2024-06-30"],
    ],
)
def test_every_command_refuses_a_misspelled_series_before_opening_the_database(args, tmp_path: Path):
    database = tmp_path / "names.db"
    result = subprocess.run(
        [sys.executable, "-c", "from flows.cli import main; main()", *args, "--database-url", f"sqlite:///{database}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith(("error: unknown exchange", "error: bad symbol")), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert not database.exists()
