"""Paging candles out of a ccxt exchange with our own ``since`` loop, retrying transient errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ccxt

from forecaster.exchange.retry import RetryPolicy, call_exchange


@dataclass
class PageProgress:
    """What the paging loop reports after each page."""

    pages: int = 0
    candles: int = 0
    last_ms: int | None = None


def fetch_candles(
    exchange: ccxt.Exchange,
    symbol: str,
    timeframe: str,
    *,
    since_ms: int,
    until_ms: int,
    limit: int,
    policy: RetryPolicy,
    on_page: Callable[[PageProgress], None] | None = None,
) -> list[list[Any]]:
    """All raw candles with open time in ``[since_ms, until_ms)``, page by page.

    Each call asks for ``limit`` candles from the cursor; the cursor moves past the newest candle
    received. The loop ends at ``until_ms`` (the exchange's clock), or at an empty first page (no
    new candle published yet). An empty page after data, while the clock says more candles have
    closed, is an error that is retried like a network error: it would otherwise end a backfill
    early without a word. A page that brings nothing newer than the cursor ends the loop too, so
    that a misbehaving server cannot loop it forever.
    """
    step_ms = int(exchange.parse_timeframe(timeframe) * 1000)
    rows: list[list[Any]] = []
    progress = PageProgress()
    cursor = since_ms
    while cursor < until_ms:
        page = call_exchange(
            fetch_ohlcv_page, exchange, symbol, timeframe, cursor, limit, mid_range=bool(rows), policy=policy
        )
        page = [row for row in page if row and row[0] is not None and row[0] >= cursor]
        if not page:
            break
        rows.extend(page)
        newest = max(int(row[0]) for row in page)
        progress.pages += 1
        progress.candles = len(rows)
        progress.last_ms = newest
        if on_page is not None:
            on_page(progress)
        cursor = newest + step_ms
    return rows


def fetch_ohlcv_page(
    exchange: ccxt.Exchange, symbol: str, timeframe: str, since: int, limit: int, *, mid_range: bool
) -> list[list[Any]]:
    """One ``fetch_ohlcv`` call. ccxt reads an unparsable body as "no candles": tell them apart."""
    page = exchange.fetch_ohlcv(symbol, timeframe, since=since, limit=limit)
    if not page:
        if not _is_json(exchange.last_http_response):
            raise ccxt.BadResponse(f"{exchange.id} answered fetch_ohlcv with malformed JSON")
        if mid_range:
            raise ccxt.BadResponse(f"{exchange.id} answered an empty page in the middle of the range")
    return list(page)


def _is_json(body: object) -> bool:
    if body is None or not isinstance(body, str | bytes):
        return True  # nothing kept to judge by
    try:
        json.loads(body)
    except ValueError:
        return False
    return True
