"""Opening an exchange by name: ``demo`` serves the synthetic candles offline, any other name is ccxt's."""

from __future__ import annotations

import pandas as pd

from forecaster.exchange.client import ExchangeConfig
from forecaster.exchange.loopback import to_ms
from forecaster.exchange.open import open_exchange
from forecaster.exchange.synthetic import DEMO_SYMBOLS, EPOCH, synthetic_candles


def test_demo_serves_the_synthetic_candles_through_ccxt():
    with open_exchange("demo", None, ExchangeConfig(timeout_ms=5_000)) as client:
        assert client.id == "binance" and client.urls["api"]["public"].startswith("http://127.0.0.1:")
        assert set(client.load_markets()) == set(DEMO_SYMBOLS)
        rows = client.fetch_ohlcv("ETH/USDT", "1d", since=to_ms(EPOCH), limit=5)
    expected = synthetic_candles("ETH/USDT", EPOCH, EPOCH + pd.Timedelta(days=4).to_pytimedelta())
    assert [row[0] for row in rows] == [to_ms(ts.to_pydatetime()) for ts in expected["ts"]]
    assert [row[4] for row in rows] == list(expected["close"])


def test_another_name_is_a_ccxt_client_at_the_given_url():
    with open_exchange("binance", "http://127.0.0.1:9", ExchangeConfig(timeout_ms=1_234)) as client:
        assert client.id == "binance" and client.timeout == 1_234
        assert client.urls["api"]["public"].startswith("http://127.0.0.1:9")
