"""Retries of transient exchange errors: ``Retry-After`` honoured up to the policy's longest delay."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pandas as pd
import pytest

from forecaster.exchange.client import make_exchange
from forecaster.exchange.loopback import LoopbackExchange
from forecaster.exchange.retry import RetryPolicy, call_exchange, retry_after_s
from tests.support.candles import half_year_exchange
from tests.support.faults import Faults


@pytest.fixture
def server(btc: pd.DataFrame) -> Iterator[LoopbackExchange]:
    with half_year_exchange({"BTC/USDT": btc}, faults=Faults()) as exchange:
        yield exchange


# The upper bounds are what a wrong wait would pass (one max_delay of 5 s; the 60 s asked), not how fast three
# loopback requests go on an idle machine: other tests run beside this one (pytest-xdist).
@pytest.mark.parametrize(("retry_after", "max_delay", "low", "high"), [(0.3, 5.0, 0.6, 4.0), (60, 0.2, 0.0, 10.0)])
def test_retry_after_is_honoured_up_to_the_max_delay(server, retry_after, max_delay, low, high):
    exchange = make_exchange("binance", server.url)
    exchange.load_markets()
    server.faults.fail_next(2, status=429, retry_after=retry_after)
    started = time.monotonic()
    rows = call_exchange(
        exchange.fetch_ohlcv, "BTC/USDT", "1d", since=0, limit=5, policy=RetryPolicy(3, 0.01, max_delay)
    )
    assert len(rows) == 5 and low <= time.monotonic() - started < high


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_s({"Retry-After": "2.5"}) == 2.5
    assert retry_after_s({"Retry-After": "Thu, 01 Jan 2099 00:00:00 GMT"}) > 1e9
    assert retry_after_s({"Retry-After": "soon"}) is None and retry_after_s(None) is None
