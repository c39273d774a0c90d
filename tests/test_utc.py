"""Days are UTC days whatever the machine's time zone: the backtest's "future" and the published
accuracy summary's day."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from flows.backtest import BacktestParams
from flows.params import Pair
from flows.publish import accuracy_as_of
from forecaster.report.markdown import accuracy_markdown
from forecaster.series import SeriesKey


@pytest.fixture
def local_day_differs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A local time zone whose calendar day is not the UTC day right now (UTC+14 late in the UTC day,
    UTC-12 early in it)."""
    zone = "Etc/GMT-14" if datetime.now(UTC).hour >= 12 else "Etc/GMT+12"  # POSIX signs: GMT-14 is UTC+14
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    assert datetime.now().date() != datetime.now(UTC).date()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_backtest_may_end_on_the_utc_day_but_not_after_it(local_day_differs):
    today = datetime.now(UTC).date()
    pairs = [Pair(exchange="binance", symbol="BTC/USDT")]
    assert BacktestParams(pairs=pairs, start=today - timedelta(days=30), end=today).end == today
    with pytest.raises(ValueError, match="lies in the future"):
        BacktestParams(pairs=pairs, start=today - timedelta(days=30), end=today + timedelta(days=1))


def test_the_published_accuracy_summary_runs_up_to_the_utc_day(local_day_differs, sessions):
    moment = accuracy_as_of(None, None)
    assert moment.utcoffset() == timedelta(0)
    with sessions() as session:
        markdown = accuracy_markdown(session, [SeriesKey("binance", "BTC/USDT")], moment)
    assert markdown.startswith(f"## Forecast accuracy (live) up to {datetime.now(UTC):%Y-%m-%d}")
