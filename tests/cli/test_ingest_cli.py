"""The ``forecaster`` command as users run it: real process entry, real database, one-line errors.

Each test starts the command in a process of its own (a few seconds of imports): all are marked slow but one,
which keeps the console entry in the fast subset.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forecaster.db.models import Candle
from tests.support.cli import forecaster
from tests.support.rows import row_count


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.mark.slow
def test_demo_ingest_runs_the_whole_path_offline(sqlite_url, tmp_path):
    result = forecaster(
        "ingest", "--exchange", "demo", "--symbols", "BTC/USDT,ETH/USDT", database_url=sqlite_url, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert (
        len(lines) == 2
        and lines[0].startswith("demo BTC/USDT 1d: ")
        and " new, 0 updated; stored 2018-01-01.." in lines[0]
    )
    assert "page 2" in result.stderr  # progress on a multi-page backfill
    first = row_count(sqlite_url, Candle)
    again = forecaster("ingest", "--exchange", "demo", "--symbols", "BTC/USDT", database_url=sqlite_url, cwd=tmp_path)
    assert again.returncode == 0 and ": 0 new, 0 updated" in again.stdout
    assert row_count(sqlite_url, Candle) == first


@pytest.mark.slow
def test_csv_import_of_a_long_history_with_gaps(eth: pd.DataFrame, sqlite_url, tmp_path):
    csv = tmp_path / "ETHUSDT.csv"  # as the real export is written: a date a row, 3142 rows, 6 days missing
    export = eth.rename(columns={"ts": "timestamp"}).assign(timestamp=eth["ts"].dt.strftime("%Y-%m-%d"))
    export.to_csv(csv, index=False)
    result = forecaster(
        "import-csv", str(csv), "--exchange", "binance", "--symbol", "ETH/USDT", database_url=sqlite_url, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "3142 new" in result.stdout and "6 missing in 4 gaps" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "--exchange", "nosuchex", "--symbols", "BTC/USDT"], "unknown exchange 'nosuchex'"),
        (["ingest", "--exchange", "demo", "--symbols", "BTC/USDX"], "unknown symbol 'BTC/USDX' on binance"),
        (
            ["ingest", "--exchange", "demo", "--symbols", "BTC/USDT", "--since", "2024-13-45"],
            "bad --since '2024-13-45'",
        ),
        (["ingest", "--exchange", "demo", "--symbols", "BTC/USDT", "--since", "2999-01-01"], "lies in the future"),
        (["ingest", "--exchange", "demo", "--symbols", "BTC/USDT", "--timeframe", "1M"], "unsupported timeframe '1M'"),
    ],
)
def test_bad_ingest_input_is_one_clear_line_and_writes_nothing(args, message, sqlite_url, tmp_path):
    result = forecaster(*args, database_url=sqlite_url, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert row_count(sqlite_url, Candle) == 0


CSV_HEADER = "timestamp,open,high,low,close,volume\n"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("timestamp,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n", "missing column(s) volume"),
        (CSV_HEADER + "2024-01-01,1,2,0.5,1.5,10\n2024-01-02,1,two,0.5,1.5,10\n", ":3: high is not a number: 'two'"),
        (CSV_HEADER + "2024-01-01,1,2,0.5,1.5,10\n2024-01-02,1,0.4,0.5,0.45,10\n", "high below low"),
        (CSV_HEADER + "2024-01-01,1,2,0.5,1.5,10\nyesterday,1,2,0.5,1.5,10\n", "not a date or epoch milliseconds"),
    ],
)
def test_bad_csv_is_refused_whole(content, message, sqlite_url, tmp_path):
    path = tmp_path / "candles.csv"
    path.write_text(content)
    result = forecaster(
        "import-csv", str(path), "--exchange", "binance", "--symbol", "BTC/USDT", database_url=sqlite_url, cwd=tmp_path
    )
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert row_count(sqlite_url, Candle) == 0


@pytest.mark.slow
def test_csv_with_epoch_milliseconds_and_mixed_offsets(sqlite_url, tmp_path):
    path = tmp_path / "candles.csv"
    path.write_text(CSV_HEADER + "1704067200000,1,2,0.5,1.5,10\n1704153600000,1.5,2,1,1.2,5\n")
    assert (
        forecaster(
            "import-csv", str(path), "--exchange", "binance", "--symbol", "A/B", database_url=sqlite_url, cwd=tmp_path
        ).returncode
        == 0
    )
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(
        "date,open,high,low,close,volume\n2024-01-03T00:00:00Z,1,2,0.5,1.5,10\n2024-01-04T01:00:00+01:00,1.5,2,1,1.2,5\n"
    )
    result = forecaster(
        "import-csv", str(mixed), "--exchange", "binance", "--symbol", "A/B", database_url=sqlite_url, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "2 new" in result.stdout and "stored 2024-01-01..2024-01-04 (4)" in result.stdout


def test_csv_row_off_the_day_grid_after_conversion_is_refused_with_its_line(tmp_path):
    path = tmp_path / "off.csv"
    days = "".join(f"2024-01-0{day},1,2,0.5,1.5,10\n" for day in range(1, 5))
    path.write_text(CSV_HEADER + days + "2024-01-05T00:00:00+02:00,1.4,1.6,1.2,1.5,9\n")  # 2024-01-04 22:00 UTC
    url = f"sqlite:///{tmp_path / 'csv.db'}"
    result = forecaster(
        "import-csv", str(path), "-e", "binance", "--symbol", "BTC/USDT", database_url=url, cwd=tmp_path
    )
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert f"{path}:6: 2024-01-04T22:00:00+00:00 (in UTC) is not a 1d candle open time" in result.stderr
    assert row_count(url, Candle) == 0


@pytest.mark.slow
def test_unreachable_database_is_one_line_without_password_or_api_secret(tmp_path):
    password, key, secret = "pw-77e2c5", "key-4c1d9e", "secret-9f3a7b"
    url = f"postgresql+psycopg://app:{password}@127.0.0.1:1/none"
    credentials = {"FORECASTER_EXCHANGE_API_KEY": key, "FORECASTER_EXCHANGE_API_SECRET": secret}
    ingest = ("ingest", "--exchange", "demo", "--symbols", "BTC/USDT")
    result = forecaster(*ingest, database_url=url, cwd=tmp_path, env=credentials)
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot reach the database postgresql+psycopg://app:***@127.0.0.1:1/none")
    debug = forecaster(*ingest, "--debug", database_url=url, cwd=tmp_path, env=credentials)  # with the traceback
    assert debug.returncode != 0
    for output in (result.stdout + result.stderr, debug.stdout + debug.stderr):
        assert password not in output and key not in output and secret not in output
