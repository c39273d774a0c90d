"""The loopback exchange through ccxt's stock ``binance`` class, over real HTTP, with BTC/USDT candles on the real
files' calendar."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta

import ccxt
import pandas as pd
import pytest

from forecaster.exchange.client import make_exchange
from forecaster.exchange.loopback import LoopbackExchange, to_ms
from tests.support.faults import Faults

SYMBOL = "BTC/USDT"
EXCHANGE_INFO_PATHS = ["/api/v3/exchangeInfo", "/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo"]


def ms(when: pd.Timestamp) -> int:
    return to_ms(when.to_pydatetime())


def rows(frame: pd.DataFrame) -> list[list[float]]:
    """A candle frame as the rows ccxt's ``fetch_ohlcv`` returns."""
    values = frame[["open", "high", "low", "close", "volume"]].to_numpy().tolist()
    return [[ms(ts), *row] for ts, row in zip(frame["ts"], values, strict=True)]


def after_last(frame: pd.DataFrame) -> datetime:
    """A clock at which the frame's last candle has just closed."""
    return (frame["ts"].iloc[-1] + timedelta(days=1, minutes=10)).to_pydatetime()


@pytest.fixture
def server(btc: pd.DataFrame) -> Iterator[LoopbackExchange]:
    with LoopbackExchange({SYMBOL: btc}, now=after_last(btc), faults=Faults()) as running:
        yield running


@pytest.fixture
def exchange(server: LoopbackExchange) -> ccxt.Exchange:
    exchange = make_exchange("binance", server.url)
    exchange.load_markets()
    server.reset_requests()
    return exchange


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_load_markets_sees_an_active_spot_market(server: LoopbackExchange) -> None:
    exchange = make_exchange("binance", server.url)
    markets = exchange.load_markets()
    assert [path for path, _ in server.requests] == EXCHANGE_INFO_PATHS
    market = markets[SYMBOL]
    assert (market["id"], market["type"], market["spot"], market["active"]) == ("BTCUSDT", "spot", True, True)
    assert market["precision"]["price"] == 0.01
    assert list(markets) == [SYMBOL]


def test_time_and_ping(server: LoopbackExchange, exchange: ccxt.Exchange, btc: pd.DataFrame) -> None:
    assert exchange.fetch_time() == to_ms(after_last(btc))
    assert exchange.publicGetPing() == {}
    assert get(server.url + "/api/v3/nothing")[0] == 404


@pytest.mark.parametrize(("first", "limit"), [(0, 5), (1500, 200), (100, 1000)])
def test_pages_return_the_source_rows(exchange: ccxt.Exchange, btc: pd.DataFrame, first: int, limit: int) -> None:
    page = exchange.fetch_ohlcv(SYMBOL, "1d", since=ms(btc["ts"].iloc[first]), limit=limit)
    assert page == rows(btc.iloc[first : first + limit])


def test_without_since_the_latest_candles_come(
    server: LoopbackExchange, exchange: ccxt.Exchange, btc: pd.DataFrame
) -> None:
    assert exchange.fetch_ohlcv(SYMBOL, "1d", limit=10) == rows(btc.tail(10))
    assert exchange.fetch_ohlcv(SYMBOL, "1d") == rows(btc.tail(500))
    assert server.requests[-1][1] == {"symbol": "BTCUSDT", "interval": "1d", "limit": "500"}


def test_klines_rows_have_binances_shape(server: LoopbackExchange, btc: pd.DataFrame) -> None:
    start = ms(btc["ts"].iloc[0])
    status, _, body = get(f"{server.url}/api/v3/klines?symbol=BTCUSDT&interval=1d&startTime={start}&limit=1")
    [row] = json.loads(body)
    assert status == 200
    first = btc.iloc[0]
    prices = [f"{first[column]:.8f}" for column in ("open", "high", "low", "close", "volume")]
    assert row[:7] == [start, *prices, start + 86_400_000 - 1]  # Binance's strings with 8 decimals
    assert len(row) == 12 and isinstance(row[8], int) and row[11] == "0"


def test_paging_counts_requests(server: LoopbackExchange, exchange: ccxt.Exchange, btc: pd.DataFrame) -> None:
    since, fetched = ms(btc["ts"].iloc[0]), []
    while True:
        page = exchange.fetch_ohlcv(SYMBOL, "1d", since=since, limit=1000)
        fetched += page
        if len(page) < 1000:
            break
        since = page[-1][0] + 1
    assert fetched == rows(btc)
    assert server.klines_requests == len(btc) // 1000 + 1
    server.reset_requests()
    assert server.klines_requests == 0 and server.requests == []


def test_bad_requests_map_to_ccxt_errors(server: LoopbackExchange, exchange: ccxt.Exchange) -> None:
    with pytest.raises(ccxt.BadSymbol):  # ccxt refuses a symbol missing from exchangeInfo itself
        exchange.fetch_ohlcv("FOO/USDT", "1d")
    assert server.klines_requests == 0
    with pytest.raises(ccxt.BadSymbol, match="-1121"):
        exchange.publicGetKlines({"symbol": "FOOUSDT", "interval": "1d"})
    with pytest.raises(ccxt.BadRequest, match="-1120"):
        exchange.fetch_ohlcv(SYMBOL, "4h")
    with pytest.raises(ccxt.BadRequest, match="-1130"):
        exchange.publicGetKlines({"symbol": "BTCUSDT", "interval": "1d", "limit": 1001})


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (429, ccxt.DDoSProtection),
        (418, ccxt.DDoSProtection),
        (500, ccxt.ExchangeNotAvailable),
        (502, ccxt.ExchangeNotAvailable),
        (503, ccxt.ExchangeNotAvailable),
        (504, ccxt.RequestTimeout),
    ],
)
def test_http_failures_raise_network_errors_then_pass(
    server: LoopbackExchange, exchange: ccxt.Exchange, status: int, error: type[Exception]
) -> None:
    server.faults.fail_next(2, status=status)
    for _ in range(2):
        with pytest.raises(error) as raised:
            exchange.fetch_ohlcv(SYMBOL, "1d", limit=3)
        assert isinstance(raised.value, ccxt.NetworkError)
    assert len(exchange.fetch_ohlcv(SYMBOL, "1d", limit=3)) == 3
    assert server.klines_requests == 3


def test_rate_limit_answers_carry_retry_after(server: LoopbackExchange) -> None:
    server.faults.fail_next(1, status=429, retry_after=7)
    status, headers, body = get(server.url + "/api/v3/klines?symbol=BTCUSDT&interval=1d")
    assert (status, headers["Retry-After"], json.loads(body)["code"]) == (429, "7", -1003)


def test_a_binance_internal_error_is_not_a_network_error(server: LoopbackExchange, exchange: ccxt.Exchange) -> None:
    server.faults.fail_next(1, status=500, code=-1001)
    with pytest.raises(ccxt.OperationFailed) as raised:
        exchange.fetch_ohlcv(SYMBOL, "1d", limit=3)
    assert not isinstance(raised.value, ccxt.NetworkError | ccxt.ExchangeError)


def test_faults_on_another_path(server: LoopbackExchange) -> None:
    server.faults.fail_next(1, status=503, path="/api/v3/exchangeInfo")
    exchange = make_exchange("binance", server.url)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        exchange.load_markets()
    assert SYMBOL in exchange.load_markets(reload=True)


def test_malformed_json_is_not_an_error_in_ccxt(
    server: LoopbackExchange, exchange: ccxt.Exchange, btc: pd.DataFrame
) -> None:
    since = ms(btc["ts"].iloc[0])
    server.faults.malformed_next(2)
    assert exchange.fetch_ohlcv(SYMBOL, "1d", since=since, limit=3) == []  # junk rows, all before since
    junk = exchange.fetch_ohlcv(SYMBOL, "1d", limit=3)
    assert len(junk) == 3 and all(row[1] is None for row in junk)
    assert exchange.fetch_ohlcv(SYMBOL, "1d", since=since, limit=3) == rows(btc.head(3))


def test_truncated_body_raises_network_error(exchange: ccxt.Exchange, server: LoopbackExchange) -> None:
    server.faults.truncated_next(1)
    with pytest.raises(ccxt.NetworkError):
        exchange.fetch_ohlcv(SYMBOL, "1d", limit=1000)
    assert len(exchange.fetch_ohlcv(SYMBOL, "1d", limit=1000)) == 1000


def test_latency_delays_and_times_out(server: LoopbackExchange, exchange: ccxt.Exchange) -> None:
    server.faults.set_latency(0.3)
    started = time.monotonic()
    exchange.fetch_ohlcv(SYMBOL, "1d", limit=1)
    assert time.monotonic() - started >= 0.3
    exchange.timeout = 100
    with pytest.raises(ccxt.RequestTimeout):
        exchange.fetch_ohlcv(SYMBOL, "1d", limit=1)
    server.faults.clear()
    assert len(exchange.fetch_ohlcv(SYMBOL, "1d", limit=1)) == 1


def test_empty_and_unordered_pages(server: LoopbackExchange, exchange: ccxt.Exchange, btc: pd.DataFrame) -> None:
    since = ms(btc["ts"].iloc[10])
    server.faults.empty_next(1)
    assert exchange.fetch_ohlcv(SYMBOL, "1d", since=since, limit=3) == []
    server.faults.unordered_next(1)
    raw = exchange.publicGetKlines({"symbol": "BTCUSDT", "interval": "1d", "startTime": since, "limit": 3})
    assert [row[0] for row in raw] == [ms(ts) for ts in btc["ts"].iloc[12:9:-1]]
    server.faults.unordered_next(1)  # ccxt sorts a page by time: the disorder does not reach its caller
    assert exchange.fetch_ohlcv(SYMBOL, "1d", since=since, limit=3) == rows(btc.iloc[10:13])


def test_dropped_duplicated_and_corrupted_candles(
    server: LoopbackExchange, exchange: ccxt.Exchange, btc: pd.DataFrame
) -> None:
    days = btc["ts"].iloc[10:16].tolist()
    server.faults.drop(SYMBOL, days[1])
    server.faults.duplicate(SYMBOL, days[3].strftime("%Y-%m-%d"))
    server.faults.corrupt(SYMBOL, days[4], field="close", value=float("nan"))
    server.faults.corrupt(SYMBOL, days[5], field="low", value=-1.0)
    page = exchange.fetch_ohlcv(SYMBOL, "1d", since=ms(days[0]), limit=6)
    assert [row[0] for row in page] == [ms(day) for day in (days[0], days[2], days[3], days[3], days[4], days[5])]
    assert page[4][4] != page[4][4] and page[5][3] == -1.0  # NaN close, negative low
    raw = exchange.publicGetKlines({"symbol": "BTCUSDT", "interval": "1d", "startTime": ms(days[4]), "limit": 2})
    assert (raw[0][4], raw[1][3]) == ("NaN", "-1.00000000")
    server.faults.clear()
    assert exchange.fetch_ohlcv(SYMBOL, "1d", since=ms(days[0]), limit=6) == rows(btc.iloc[10:16])


def test_clock_hides_future_candles_and_serves_the_open_one(
    server: LoopbackExchange, exchange: ccxt.Exchange, btc: pd.DataFrame
) -> None:
    today = btc["ts"].iloc[2000]
    server.set_clock((today + timedelta(hours=15)).to_pydatetime())
    assert exchange.fetch_ohlcv(SYMBOL, "1d", limit=3) == rows(btc.iloc[1998:2001])  # the last is still open
    assert exchange.fetch_ohlcv(SYMBOL, "1d", since=ms(today) + 1) == []
    assert exchange.fetch_time() == ms(today) + 15 * 3_600_000
    server.set_clock(None)  # the real time: every candle of the frame lies in the past
    assert exchange.fetch_ohlcv(SYMBOL, "1d", limit=1) == rows(btc.tail(1))


def test_extend_and_set_candles_serve_new_days(btc: pd.DataFrame) -> None:
    with LoopbackExchange({SYMBOL: btc.iloc[:-5]}, now=after_last(btc), faults=Faults()) as server:
        exchange = make_exchange("binance", server.url)
        assert exchange.fetch_ohlcv(SYMBOL, "1d", limit=1) == rows(btc.iloc[-6:-5])
        server.extend(SYMBOL, btc.iloc[-7:])  # overlapping rows replace the old ones
        assert exchange.fetch_ohlcv(SYMBOL, "1d", limit=10) == rows(btc.tail(10))
        server.set_candles("ETH/USDT", btc.head(3))
        assert "ETH/USDT" in exchange.load_markets(reload=True)
        assert exchange.fetch_ohlcv("ETH/USDT", "1d") == rows(btc.head(3))


def test_concurrent_clients(server: LoopbackExchange, btc: pd.DataFrame) -> None:
    pages: list[list[list[float]]] = []

    def fetch(first: int) -> None:
        client = make_exchange("binance", server.url)
        pages.append(client.fetch_ohlcv(SYMBOL, "1d", since=ms(btc["ts"].iloc[first]), limit=100))

    threads = [threading.Thread(target=fetch, args=(first,)) for first in range(0, 800, 100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(row for page in pages for row in page) == rows(btc.head(800))


def test_stop_shuts_the_server_down(btc: pd.DataFrame) -> None:
    server = LoopbackExchange({SYMBOL: btc}, faults=Faults()).start()
    url = server.url
    assert get(url + "/api/v3/ping")[0] == 200
    server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/api/v3/ping", timeout=2)
    with pytest.raises(RuntimeError):
        _ = server.url
