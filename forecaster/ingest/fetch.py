"""Paging candles out of a ccxt exchange with our own ``since`` loop, retrying transient errors."""

from __future__ import annotations

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
    received. The loop ends at ``until_ms`` (the exchange's clock), at an empty page, or when a
    page brings nothing newer (so a misbehaving server cannot loop it forever).
    """
    step_ms = int(exchange.parse_timeframe(timeframe) * 1000)
    rows: list[list[Any]] = []
    progress = PageProgress()
    cursor = since_ms
    while cursor < until_ms:
        page = call_exchange(
            exchange.fetch_ohlcv, symbol, timeframe, since=cursor, limit=limit, policy=policy
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
