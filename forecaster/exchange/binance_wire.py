"""Binance's public spot REST answers, as the loopback server writes them: kline rows, exchangeInfo markets,
decimals, error bodies. Shapes follow Binance's documentation; values come from the served candle frames."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forecaster.series import CANDLE_COLUMNS

PRICE_FIELDS = tuple(CANDLE_COLUMNS[1:])  # the values of a kline row, in order
RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]


def market_id(symbol: str) -> str:
    """Binance's id of a ccxt unified spot symbol: ``BTC/USDT`` -> ``BTCUSDT``."""
    base, _, quote = symbol.partition("/")
    if not base or not quote:
        raise ValueError(f"bad symbol {symbol!r}: expected a ccxt unified spot symbol such as BTC/USDT")
    return base + quote


def format_decimal(value: float) -> str:
    """A decimal as Binance writes it (8 places), or the shortest exact form when 8 places would round it."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = f"{value:.8f}"
    return text if float(text) == value else np.format_float_positional(value, trim="-")


class ApiError(Exception):
    """A Binance error answer: HTTP 400 with ``{"code": code, "msg": msg}``."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


@dataclass(frozen=True)
class Response:
    """What the handler writes back."""

    status: int
    body: bytes
    content_type: str = "application/json;charset=UTF-8"
    headers: Mapping[str, str] = field(default_factory=dict)
    # A Content-Length larger than the body: the connection closes before the client has it all.
    declared_length: int | None = None


def json_response(status: int, payload: Any) -> Response:
    return Response(status, json.dumps(payload, separators=(",", ":"), allow_nan=False).encode())


def kline_row(open_ms: int, values: Mapping[str, float], interval_ms: int) -> list[Any]:
    """One kline row as Binance writes it: open time, prices and volume as strings, close time, quote volume..."""
    volume = values["volume"]
    typical = (values["open"] + values["high"] + values["low"] + values["close"]) / 4
    quote = volume * typical
    trades = int(quote / 500) + 1 if math.isfinite(quote) and quote > 0 else 0
    return [
        open_ms,
        *(format_decimal(values[name]) for name in PRICE_FIELDS),
        open_ms + interval_ms - 1,
        format_decimal(quote),
        trades,
        format_decimal(volume / 2),
        format_decimal(quote / 2),
        "0",
    ]


def symbol_info(symbol: str, closes: np.ndarray) -> dict[str, Any]:
    """One active spot market of exchangeInfo, its tick and lot sizes fitted to the price level of ``closes``."""
    base, _, quote = symbol.partition("/")
    level = float(np.nanmedian(closes)) if np.isfinite(closes).any() else 1.0
    tick = 10.0 ** min(-2, max(-8, math.floor(math.log10(max(level, 1e-8))) - 5))
    step = 10.0 ** min(0, max(-8, -math.floor(math.log10(max(level, 1e-8))) - 1))
    return {
        "symbol": base + quote,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": format_decimal(tick),
                "maxPrice": "1000000.00000000",
                "tickSize": format_decimal(tick),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": format_decimal(step),
                "maxQty": "9000000.00000000",
                "stepSize": format_decimal(step),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": "5.00000000",
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def failure_response(status: int, retry_after: float | None, code: int | None) -> Response:
    """An HTTP error answer: Binance's JSON error body when ``code`` is given, else a gateway's plain text."""
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    if code is not None:
        messages = {-1003: "Too many requests; current limit of IP is 6000 requests per 1 MINUTE."}
        msg = messages.get(code, "Internal error; unable to process your request. Please try again.")
        body = json.dumps({"code": code, "msg": msg}).encode()
        return Response(status, body, headers=headers)
    return Response(status, f"{status} gateway error".encode(), "text/plain", headers)
