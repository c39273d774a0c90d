"""Flow parameters are validated by their types: a bad value is refused in one line that names where it is.

Days are UTC days whatever the machine's time zone: a day "in the future" is one after today in UTC.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from prefect.exceptions import ParameterTypeError, SignatureMismatchError

from flows.daily import daily
from flows.params import check_day
from forecaster.errors import InputError

GOOD_PAIRS = [{"exchange": "binance", "symbol": "BTC/USDT"}]


@pytest.mark.parametrize(
    ("values", "where", "message"),
    [
        ({"pairs": []}, "pairs", "at least 1 item"),
        ({"pairs": [{"exchange": "binance", "symbol": "BTCUSDT"}]}, "pairs.0.symbol", "bad symbol 'BTCUSDT'"),
        ({"pairs": [{"exchange": "nosuchex", "symbol": "BTC/USDT"}]}, "pairs.0.exchange", "unknown exchange"),
        ({"catch_up_days": -1}, "catch_up_days", "greater than or equal to 0"),
        ({"job": {"train": {"window_days": 100}}}, "job", "window_days=100 is shorter than the model needs"),
        ({"job": {"model": {"horizon": 0}}}, "job.model.horizon", "greater than or equal to 1"),
        ({"job": {"model": {"horizon": 10_000}}}, "job.model.horizon", "less than or equal to"),
        ({"job": {"model": {"features": ["log_return", "rsi"]}}}, "job.model.features", "unknown feature(s) ['rsi']"),
        ({"job": {"modle": {"horizon": 3}}}, "job.modle", "Extra inputs are not permitted"),
        ({"job": {"gate": {"min_pair": 3}}}, "job.gate.min_pair", "Extra inputs are not permitted"),
    ],
)
def test_bad_flow_parameters_are_refused_in_one_line(values, where, message):
    with pytest.raises(ParameterTypeError) as caught:
        daily.validate_parameters({"pairs": GOOD_PAIRS, **values})
    (problem,) = str(caught.value).splitlines()[1:]
    assert problem.startswith(f" - {where}: ") and message in problem, problem


def test_an_unknown_flow_parameter_is_refused():
    with pytest.raises(SignatureMismatchError, match="pair"):
        daily.validate_parameters({"pairs": GOOD_PAIRS, "pair": GOOD_PAIRS})


def test_a_day_in_the_future_is_refused():
    with pytest.raises(InputError, match="as_of 2999-01-01 lies in the future"):
        check_day(date(2999, 1, 1), "as_of")


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
