"""Paging candles out of a ccxt exchange with our own ``since`` loop, retrying transient errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ccxt

from forecaster.exchange.retry import RetryPolicy, call_exchange

# Candles asked for when probing for the exchange's newest ones (``fetch_ohlcv`` without ``since``).
NEWEST_PROBE_LIMIT = 3


@dataclass
class PageProgress:
    """What the paging loop reports after each page."""

    pages: int = 0
    candles: int = 0
    last_ms: int | None = None


@dataclass
class FetchedCandles:
    """The raw candles of one paging run, and where the exchange's data ended when it ended early.

    ``ended_ms`` is the open time of the exchange's newest candle when the exchange has nothing after the
    cursor although its clock says more candles have closed (a halted or delisted market); ``None`` when
    the paging reached the clock, or the exchange serves no candle of the symbol at all.
    """

    rows: list[list[Any]] = field(default_factory=list)
    ended_ms: int | None = None


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
) -> FetchedCandles:
    """All raw candles with open time in ``[since_ms, until_ms)``, page by page.

    Each call asks for ``limit`` candles from the cursor; the cursor moves past the newest candle
    received. The loop ends at ``until_ms`` (the exchange's clock). An empty page while the clock says
    more candles have closed is told apart by asking the exchange for its newest candles (no ``since``):

    - none is at or after the cursor: the market's data ends there (halted, delisted, or no longer
      published); the loop ends and ``ended_ms`` says where;
    - newer ones exist: after data, a hole in the middle of the range, which is asked for again and
      retried like a network error (it would otherwise end a backfill early without a word); on the
      first page, the exchange serves nothing from ``since`` (the loop ends, as before).

    A page that brings nothing newer than the cursor ends the loop too, so that a misbehaving server
    cannot loop it forever.
    """
    step_ms = int(exchange.parse_timeframe(timeframe) * 1000)
    result = FetchedCandles()
    progress = PageProgress()
    cursor = since_ms
    while cursor < until_ms:
        page = _page(exchange, symbol, timeframe, cursor, limit, policy, mid_range=False)
        if not page:
            newest = call_exchange(newest_open_ms, exchange, symbol, timeframe, expect=bool(result.rows), policy=policy)
            if newest is None or newest < cursor:
                result.ended_ms = newest
                break
            if not result.rows:
                break
            page = _page(exchange, symbol, timeframe, cursor, limit, policy, mid_range=True)
            if not page:
                break
        result.rows.extend(page)
        newest_in_page = max(int(row[0]) for row in page)
        progress.pages += 1
        progress.candles = len(result.rows)
        progress.last_ms = newest_in_page
        if on_page is not None:
            on_page(progress)
        cursor = newest_in_page + step_ms
    return result


def _page(
    exchange: ccxt.Exchange,
    symbol: str,
    timeframe: str,
    cursor: int,
    limit: int,
    policy: RetryPolicy,
    *,
    mid_range: bool,
) -> list[list[Any]]:
    """One page from ``cursor``, retried on transient errors, without rows older than the cursor."""
    page = call_exchange(
        fetch_ohlcv_page, exchange, symbol, timeframe, cursor, limit, mid_range=mid_range, policy=policy
    )
    return [row for row in page if row and row[0] is not None and row[0] >= cursor]


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


def newest_open_ms(exchange: ccxt.Exchange, symbol: str, timeframe: str, *, expect: bool) -> int | None:
    """Open time of the exchange's newest candle of ``symbol`` (``fetch_ohlcv`` without ``since``).

    None when it serves none; when candles were already received (``expect``), an empty answer is a bad
    answer to retry instead.
    """
    rows = [row for row in exchange.fetch_ohlcv(symbol, timeframe, limit=NEWEST_PROBE_LIMIT) if row and row[0]]
    if rows:
        return max(int(row[0]) for row in rows)
    if expect or not _is_json(exchange.last_http_response):
        raise ccxt.BadResponse(f"{exchange.id} answered no newest candle of {symbol} although it served some")
    return None


def _is_json(body: object) -> bool:
    if body is None or not isinstance(body, str | bytes):
        return True  # nothing kept to judge by
    try:
        json.loads(body)
    except ValueError:
        return False
    return True
