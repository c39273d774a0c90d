"""Only the market types the symbols need are loaded: a spot ingest on Binance never touches the futures
endpoints, and succeeds while they fail."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from forecaster.errors import InputError
from forecaster.exchange.client import check_market, make_exchange
from forecaster.exchange.loopback import LoopbackExchange
from forecaster.exchange.retry import RetryPolicy
from forecaster.exchange.synthetic import synthetic_candles
from forecaster.ingest.service import ingest_from_exchange
from forecaster.series import SeriesKey
from tests.support.faults import Faults

FAST_RETRY = RetryPolicy(attempts=3, initial_delay_s=0.01, max_delay_s=0.05)
BTC = synthetic_candles("BTC/USDT", "2024-01-01", "2024-01-30")
FUTURES = ("/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo")


@pytest.fixture
def server() -> Iterator[LoopbackExchange]:
    now = (BTC["ts"].iloc[-1] + pd.Timedelta(days=1, minutes=10)).to_pydatetime()
    with LoopbackExchange({"BTC/USDT": BTC}, now=now, faults=Faults()) as exchange:
        yield exchange


def paths(server: LoopbackExchange) -> list[str]:
    return [path for path, _ in server.requests]


def test_a_spot_ingest_loads_the_spot_markets_alone(server, sessions):
    summary = ingest_from_exchange(
        make_exchange("binance", server.url), sessions, SeriesKey("binance", "BTC/USDT"), policy=FAST_RETRY
    )
    assert summary.new == 30
    assert paths(server).count("/api/v3/exchangeInfo") == 1
    assert not [path for path in paths(server) if path.startswith(("/fapi", "/dapi"))]


def test_a_spot_ingest_succeeds_while_the_futures_endpoints_fail(server, sessions):
    for path in FUTURES:
        server.faults.fail_next(10**6, status=503, path=path)
    summary = ingest_from_exchange(
        make_exchange("binance", server.url), sessions, SeriesKey("binance", "BTC/USDT"), policy=FAST_RETRY
    )
    assert summary.new == 30


def test_a_derivative_symbol_loads_the_futures_markets_too(server):
    exchange = make_exchange("binance", server.url)
    check_market(exchange, "BTC/USDT", "1d", FAST_RETRY)
    check_market(exchange, "BTC/USDT", "1d", FAST_RETRY)  # loaded once
    assert paths(server) == ["/api/v3/exchangeInfo"]
    # the loopback lists no futures: the derivative is unknown, but it was looked for where it lives
    with pytest.raises(InputError, match=r"unknown symbol 'BTC/USDT:USDT' on binance"):
        check_market(exchange, "BTC/USDT:USDT", "1d", FAST_RETRY)
    assert set(FUTURES) <= set(paths(server))
    check_market(exchange, "BTC/USDT", "1d", FAST_RETRY)  # spot is still listed, nothing reloaded
    assert len(server.requests) == 4
