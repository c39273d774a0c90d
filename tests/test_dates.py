"""Dates are ISO 8601 only: a day written month-first or day-first is one clear error, never a guess."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from forecaster.dates import parse_date
from forecaster.errors import InputError
from tests.support.cli import forecaster


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-12", datetime(2026, 1, 12, tzinfo=UTC)),
        (" 2026-01-12 ", datetime(2026, 1, 12, tzinfo=UTC)),
        ("2026-01-12T05:30:00+02:00", datetime(2026, 1, 12, 3, 30, tzinfo=UTC)),
        ("2026-01-12T05:30Z", datetime(2026, 1, 12, 5, 30, tzinfo=UTC)),
        ("2026-01-12 05:30:00", datetime(2026, 1, 12, 5, 30, tzinfo=UTC)),  # no offset: UTC
    ],
)
def test_iso_dates_and_datetimes_are_read_in_utc(text, expected):
    assert parse_date(text, allow_future=True) == expected


@pytest.mark.parametrize("text", ["01/12/2026", "1.12.2026", "12/01/2026", "2026/01/12", "20260112", "Jan 12 2026"])
def test_other_date_forms_are_refused_not_guessed(text):
    with pytest.raises(InputError, match=rf"bad --as-of '{text}': use an ISO date YYYY-MM-DD"):
        parse_date(text, option="--as-of", allow_future=True)


@pytest.mark.parametrize("text", ["2024-13-45", "2026-02-30"])
def test_impossible_iso_days_are_refused(text):
    with pytest.raises(InputError, match=rf"bad --since '{text}': no such day"):
        parse_date(text, option="--since")


@pytest.mark.slow  # the console command
@pytest.mark.parametrize(
    "args",
    [
        ["run", "--as-of", "01/12/2026"],
        ["run", "--as-of", "1.12.2026"],
        ["train", "-e", "binance", "-s", "BTC/USDT", "--as-of", "01/12/2026"],
        ["ingest", "-e", "demo", "-s", "BTC/USDT", "--since", "1.12.2024"],
        ["backtest", "-e", "binance", "-s", "BTC/USDT", "--start", "01/06/2024", "--end", "2024-06-30"],
    ],
)
def test_a_command_given_a_non_iso_date_exits_non_zero_in_one_line_and_writes_nothing(args, tmp_path: Path):
    database = tmp_path / "dates.db"
    result = forecaster(*args, database_url=f"sqlite:///{database}", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith("error: bad --") and result.stderr.count("\n") == 1, result.stderr
    assert "use an ISO date YYYY-MM-DD" in result.stderr
    assert not database.exists()  # not even the schema was created
