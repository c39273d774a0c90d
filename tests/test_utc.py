"""Days are UTC days whatever the machine's time zone: a day "in the future" is one after today in UTC."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from flows.params import check_day
from forecaster.errors import InputError


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


def test_a_day_may_be_the_utc_day_but_not_after_it(local_day_differs):
    today = datetime.now(UTC).date()
    check_day(today, "end")  # a backtest may end today (UTC), whatever the local calendar says
    with pytest.raises(InputError, match="lies in the future"):
        check_day(today + timedelta(days=1), "end")
