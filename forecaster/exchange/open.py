"""Opening an exchange by name, including ``demo``: synthetic candles behind a loopback server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import ccxt

from forecaster.exchange.client import ExchangeConfig, make_exchange
from forecaster.series import DEMO


@contextmanager
def open_exchange(name: str, api_url: str | None, config: ExchangeConfig) -> Iterator[ccxt.Exchange]:
    """A ccxt client for ``name``. ``demo`` starts the loopback Binance-compatible server on
    127.0.0.1 with deterministic synthetic candles, so the whole real path runs offline."""
    if name != DEMO:
        yield make_exchange(name, api_url, config)
        return
    from forecaster.exchange.synthetic import demo_exchange

    with demo_exchange() as server:
        yield make_exchange("binance", server.url, config)
