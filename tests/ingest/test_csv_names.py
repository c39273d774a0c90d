"""``import-csv`` checks the exchange id and the symbol, offline, before it reads the file: a misspelled
name is one clear error and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from forecaster.cli.common import validation_message
from forecaster.exchange.names import check_exchange_id, check_symbol
from forecaster.series import SeriesKey
from tests.support.cli import forecaster

BAD = [
    ("binanse", "ETH/USDT", "unknown exchange 'binanse': use a ccxt exchange id", "did you mean binance"),
    ("binance", "ETH/USTD", "bad symbol 'ETH/USTD': unknown quote currency 'USTD'", "did you mean ETH/USDT?"),
    ("binance", "ETHUSDT", "bad symbol 'ETHUSDT': use ccxt's unified form BASE/QUOTE", "e.g. BTC/USDT"),
    ("binance", "eth/usdt", "bad symbol 'eth/usdt': ccxt's unified codes are in capitals", "ETH/USDT"),
]


@pytest.mark.parametrize(("exchange", "symbol", "message", "hint"), BAD)
def test_a_misspelled_series_cannot_be_named(exchange, symbol, message, hint):
    with pytest.raises(ValidationError) as caught:
        SeriesKey(exchange, symbol)
    line = validation_message(caught.value)
    assert line.startswith(message) and hint in line, line


@pytest.mark.slow  # the console command
@pytest.mark.parametrize(("exchange", "symbol", "message", "hint"), BAD)
def test_import_csv_refuses_a_misspelled_series_before_reading_the_file(exchange, symbol, message, hint, tmp_path):
    """The file does not even exist: the names are checked first, offline, and nothing is written."""
    url = f"sqlite:///{tmp_path / 'csv.db'}"
    result = forecaster(
        "import-csv",
        str(tmp_path / "absent.csv"),
        "--exchange",
        exchange,
        "--symbol",
        symbol,
        database_url=url,
        cwd=tmp_path,
    )
    assert result.returncode == 1 and message in result.stderr and hint in result.stderr, result.stderr
    assert not (tmp_path / "csv.db").exists()


@pytest.mark.parametrize(
    "symbol", ["BTC/USDT", "ETH/TUSD", "1000SHIB/USDT", "BTC/USDT:USDT", "BTC/USD:BTC-260327", "USDC.E/USDT", "A/B"]
)
def test_unified_symbols_pass(symbol):
    assert check_symbol(symbol) == symbol


@pytest.mark.parametrize("name", ["binance", "coinbase", "kraken", "okx", "demo"])
def test_ccxt_ids_and_demo_pass(name):
    assert check_exchange_id(name) == name


@pytest.mark.slow  # the console command
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
    result = forecaster(*args, database_url=f"sqlite:///{database}", cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith(("error: unknown exchange", "error: bad symbol")), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert not database.exists()
