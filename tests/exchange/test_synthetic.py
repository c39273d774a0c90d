"""Synthetic demo candles: determinism, extension, valid OHLC, visible regimes, and the demo exchange."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from forecaster.exchange.client import make_exchange
from forecaster.exchange.synthetic import DEMO_SYMBOLS, EPOCH, demo_exchange, synthetic_candles

END = "2026-03-31"


@pytest.fixture(scope="module")
def demo() -> dict[str, pd.DataFrame]:
    return {symbol: synthetic_candles(symbol, EPOCH, END) for symbol in DEMO_SYMBOLS}


def test_same_symbol_and_range_give_the_same_candles() -> None:
    first = synthetic_candles("ETH/USDT", "2019-01-01", "2021-06-30")
    pd.testing.assert_frame_equal(first, synthetic_candles("ETH/USDT", "2019-01-01", "2021-06-30"))
    assert not np.allclose(first["close"], synthetic_candles("SOL/USDT", "2019-01-01", "2021-06-30")["close"])


def test_a_longer_range_extends_a_shorter_one() -> None:
    short = synthetic_candles("BTC/USDT", "2020-03-01", "2020-04-15")
    long = synthetic_candles("BTC/USDT", "2019-01-01", "2024-01-01")
    common = long[long["ts"].between(short["ts"].iloc[0], short["ts"].iloc[-1])].reset_index(drop=True)
    pd.testing.assert_frame_equal(short, common)


def test_range_bounds() -> None:
    frame = synthetic_candles("BTC/USDT", "2018-01-01T00:00:01", "2018-01-10")
    assert frame["ts"].iloc[0] == pd.Timestamp("2018-01-02", tz="UTC") and len(frame) == 9
    assert synthetic_candles("BTC/USDT", "2016-01-01", "2017-12-31").empty
    assert synthetic_candles("BTC/USDT", "2016-01-01", "2018-01-01")["ts"].tolist() == [EPOCH]
    hourly = synthetic_candles("BTC/USDT", "2024-01-01", "2024-01-02", timeframe="1h")
    assert len(hourly) == 25 and (hourly["ts"].diff().dropna() == timedelta(hours=1)).all()


def test_ohlc_is_consistent(demo: dict[str, pd.DataFrame]) -> None:
    for symbol, frame in demo.items():
        assert list(frame.columns) == ["ts", "open", "high", "low", "close", "volume"], symbol
        assert str(frame["ts"].dt.tz) == "UTC" and (frame["ts"].diff().dropna() == timedelta(days=1)).all()
        body_low = np.minimum(frame["open"], frame["close"])
        body_high = np.maximum(frame["open"], frame["close"])
        assert (frame["low"] > 0).all() and (frame["low"] <= body_low).all(), symbol
        assert (body_high <= frame["high"]).all() and (frame["volume"] > 0).all(), symbol
        assert (frame["open"].iloc[1:].to_numpy() == frame["close"].iloc[:-1].to_numpy()).all(), symbol


def test_price_levels_per_symbol(demo: dict[str, pd.DataFrame]) -> None:
    first_open = {symbol: frame["open"].iloc[0] for symbol, frame in demo.items()}
    assert first_open["BTC/USDT"] == 30_000 and first_open["ETH/USDT"] == 2_000 and first_open["SOL/USDT"] == 50
    assert 10_000 < demo["BTC/USDT"]["close"].median() < 150_000
    other = synthetic_candles("QQQ/USDT", EPOCH, EPOCH)["open"].iloc[0]
    assert 10 <= other <= 500


def test_regimes_fat_tails_and_volume(demo: dict[str, pd.DataFrame]) -> None:
    for symbol, frame in demo.items():
        returns = np.log(frame["close"]).diff().dropna()
        rolling = returns.rolling(30).std().dropna()
        assert rolling.quantile(0.95) / rolling.quantile(0.05) > 2.5, symbol
        assert returns.kurt() > 1.0, symbol
        assert np.corrcoef(returns.abs(), np.log(frame["volume"].iloc[1:]))[0, 1] > 0.2, symbol


def test_generation_is_fast() -> None:
    # this process's CPU time, not the wall clock: other tests running beside it (pytest-xdist) do not count
    started = time.process_time()
    for symbol in DEMO_SYMBOLS:
        synthetic_candles(symbol, EPOCH, "2026-03-31")
    assert time.process_time() - started < 1.0


def test_demo_exchange_serves_every_symbol_up_to_the_clock() -> None:
    now = datetime(2024, 6, 1, 9, 30, tzinfo=UTC)
    with demo_exchange(now) as server:
        exchange = make_exchange("binance", server.url)
        markets = exchange.load_markets()
        assert set(DEMO_SYMBOLS) <= {symbol for symbol, market in markets.items() if market["active"]}
        page = exchange.fetch_ohlcv("SOL/USDT", "1d", limit=3)
        expected = synthetic_candles("SOL/USDT", "2024-05-30", "2024-06-01")
        assert [row[0] for row in page] == [int(ts.timestamp() * 1000) for ts in expected["ts"]]
        assert [row[4] for row in page] == expected["close"].tolist()  # the last is the open candle
        first = exchange.fetch_ohlcv("BTC/USDT", "1d", since=0, limit=1)
        assert first[0][0] == int(EPOCH.timestamp() * 1000)
        server.set_clock(now + timedelta(days=2))
        assert exchange.fetch_ohlcv("SOL/USDT", "1d", limit=1)[0][0] == page[-1][0] + 2 * 86_400_000
