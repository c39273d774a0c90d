"""ccxt exchange instances: creation, API host override, market checks and page limits."""

from __future__ import annotations

import difflib
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ccxt

from forecaster.errors import InputError
from forecaster.exchange.retry import RetryPolicy, call_exchange

# Page sizes where ccxt's ``features`` table is more generous than the endpoint it pages through
# with ``since`` (OKX's history endpoint serves 100 candles a call).
PAGE_LIMIT_OVERRIDES = {"okx": 100}
# Exchanges that serve only their most recent candles, however far back ``since`` asks.
RECENT_ONLY = {"kraken": 720}


def make_exchange(exchange_id: str, api_url: str | None = None, *, timeout_ms: int = 10_000) -> ccxt.Exchange:
    """A ccxt instance with its rate limiter on; ``api_url`` redirects every REST root to another host."""
    if exchange_id not in ccxt.exchanges:
        raise InputError(
            f"unknown exchange {exchange_id!r}: use a ccxt exchange id such as binance, coinbase, kraken, okx, "
            "or demo for the offline demo"
        )
    exchange: ccxt.Exchange = getattr(ccxt, exchange_id)({"enableRateLimit": True, "timeout": timeout_ms})
    if not exchange.has.get("fetchOHLCV"):
        raise InputError(f"exchange {exchange_id!r} does not serve OHLCV candles through ccxt")
    if api_url:
        override_api_host(exchange, api_url)
    return exchange


def override_api_host(exchange: ccxt.Exchange, api_url: str) -> None:
    """Replace the scheme and host of every REST root in ``exchange.urls['api']`` by ``api_url``'s."""
    target = urlsplit(api_url)
    if not target.scheme or not target.netloc:
        raise InputError(f"bad API URL {api_url!r}: expected scheme and host, e.g. http://127.0.0.1:8080")

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: rewrite(value) for key, value in node.items()}
        if isinstance(node, str) and "://" in node:
            parts = urlsplit(node)
            return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))
        return node

    exchange.urls["api"] = rewrite(exchange.urls["api"])


def page_limit(exchange: ccxt.Exchange) -> int:
    """Candles per ``fetch_ohlcv`` call that the exchange serves."""
    if exchange.id in PAGE_LIMIT_OVERRIDES:
        return PAGE_LIMIT_OVERRIDES[exchange.id]
    features = (exchange.features or {}).get("spot") or {}
    limit = (features.get("fetchOHLCV") or {}).get("limit")
    return int(limit) if limit else 500


def check_market(exchange: ccxt.Exchange, symbol: str, timeframe: str, policy: RetryPolicy) -> None:
    """Refuse, before anything is written, a symbol or timeframe the exchange does not list."""
    if "/" not in symbol:
        raise InputError(f"bad symbol {symbol!r}: use ccxt's unified form BASE/QUOTE, e.g. BTC/USDT")
    markets = call_exchange(exchange.load_markets, policy=policy)
    if symbol not in markets:
        close = difflib.get_close_matches(symbol, list(markets), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"unknown symbol {symbol!r} on {exchange.id}{hint}")
    if exchange.timeframes and timeframe not in exchange.timeframes:
        offered = ", ".join(exchange.timeframes)
        raise InputError(f"timeframe {timeframe!r} is not offered by {exchange.id}: choose from {offered}")


def exchange_clock_ms(exchange: ccxt.Exchange, policy: RetryPolicy) -> int:
    """The exchange's clock (its time endpoint where it has one, else ours), in epoch milliseconds."""
    if exchange.has.get("fetchTime"):
        server_ms = call_exchange(exchange.fetch_time, policy=policy)
        if server_ms:
            return int(server_ms)
    return int(exchange.milliseconds())
