"""ccxt exchange instances: creation, API host override, market checks and page limits."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
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
# Our keys in ccxt's ``options['fetchMarkets']``: the market types its class loads by default, and those loaded.
_ALL_TYPES = "forecasterAllTypes"
_LOADED_TYPES = "forecasterLoadedTypes"


@dataclass(frozen=True)
class ExchangeConfig:
    """How to talk to an exchange: the request timeout, API credentials (never printed) and retries."""

    timeout_ms: int = 10_000
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def make_exchange(exchange_id: str, api_url: str | None = None, config: ExchangeConfig | None = None) -> ccxt.Exchange:
    """A ccxt instance with its rate limiter on; ``api_url`` redirects every REST root to another host.

    ``config`` gives the request timeout and the API credentials (the entry points build it from
    ``Settings.exchange``); without one, the defaults and no credentials.
    """
    if exchange_id not in ccxt.exchanges:
        raise InputError(
            f"unknown exchange {exchange_id!r}: use a ccxt exchange id such as binance, coinbase, kraken, okx, "
            "or demo for the offline demo"
        )
    config = config or ExchangeConfig()
    options: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": config.timeout_ms,
        # Candles need only the market list: with an API key ccxt would also load currencies from private
        # endpoints (Binance: currencies and margin pairs from sapi), calls that can fail and that ingestion
        # does not use.
        "options": {"fetchCurrencies": False, "fetchMargins": False},
        **config.credentials,
    }
    exchange: ccxt.Exchange = getattr(ccxt, exchange_id)(options)
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
    markets = call_exchange(_load_markets, exchange, symbol, policy=policy)
    if symbol not in markets:
        close = difflib.get_close_matches(symbol, list(markets), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"unknown symbol {symbol!r} on {exchange.id}{hint}")
    if exchange.timeframes and timeframe not in exchange.timeframes:
        offered = ", ".join(exchange.timeframes)
        raise InputError(f"timeframe {timeframe!r} is not offered by {exchange.id}: choose from {offered}")


def _load_markets(exchange: ccxt.Exchange, symbol: str) -> dict[str, Any]:
    """The markets, of the types ``symbol`` needs where the exchange loads types apart.

    ccxt reads an unparsable market list as no markets at all: a bad answer to retry, not an unknown symbol.
    """
    option = exchange.options.get("fetchMarkets")
    if isinstance(option, dict) and isinstance(option.get("types"), list):
        markets: dict[str, Any] = _load_market_types(exchange, option, symbol)
    else:
        markets = exchange.load_markets()
    if not markets:
        raise ccxt.BadResponse(f"{exchange.id} answered its market list with no markets (malformed answer?)")
    return markets


def _load_market_types(exchange: ccxt.Exchange, option: dict[str, Any], symbol: str) -> dict[str, Any]:
    """Load only the market types ``symbol`` needs (``options['fetchMarkets']['types']``).

    ccxt loads every type by default: on Binance spot, USD-M and COIN-M futures, three requests, and a
    failure of the futures endpoints would fail a spot-only ingest. A spot symbol (``BASE/QUOTE``)
    loads spot alone; a derivative (``BASE/QUOTE:SETTLE``) every type the ccxt class loads, reloading
    the markets when only spot was loaded so far.
    """
    every = option.setdefault(_ALL_TYPES, list(option["types"]))
    wanted = every if ":" in symbol or "spot" not in every else ["spot"]
    loaded = option.get(_LOADED_TYPES) if exchange.markets else None
    if loaded is not None and set(wanted) <= set(loaded):
        return exchange.load_markets()
    option["types"] = list(wanted)
    markets = exchange.load_markets(reload=loaded is not None)
    option[_LOADED_TYPES] = list(wanted)
    return markets


def exchange_clock_ms(exchange: ccxt.Exchange, policy: RetryPolicy) -> int:
    """The exchange's clock (its time endpoint where it has one, else ours), in epoch milliseconds."""
    if exchange.has.get("fetchTime"):
        return call_exchange(_fetch_time, exchange, policy=policy)
    return int(exchange.milliseconds())


def _fetch_time(exchange: ccxt.Exchange) -> int:
    """The exchange's time; an unreadable answer is retried rather than replaced by our own clock."""
    server_ms = exchange.fetch_time()
    if not server_ms:
        raise ccxt.BadResponse(f"{exchange.id} answered fetch_time without a time (malformed answer?)")
    return int(server_ms)
