"""Fault injection for the loopback exchange: test equipment, armed by tests and the soak benchmark.

``LoopbackExchange(candles, faults=Faults())``; then, on ``server.faults``:

``set_latency(0.2)``                       seconds added before every response, on every path
``fail_next(3, status=429, retry_after=1)`` 429/418 with Binance's -1003 body and ``Retry-After``;
                                           5xx with a plain-text gateway body, or with Binance's JSON
                                           body when ``code`` is given (e.g. -1001)
``malformed_next(1)``                      a complete 200 whose body is the first half of the JSON
``truncated_next(1)``                      the connection closes halfway through the body
``empty_next(2)``                          ``[]`` instead of the page
``empty_next(1, after=1)``                 the same, once one request has passed: an empty page in the
                                           middle of a backfill (every count fault takes ``after``)
``unordered_next(1)``                      the page newest-first
``drop("BTC/USDT", "2024-01-05")``         that candle is missing (until ``clear``)
``duplicate("BTC/USDT", "2024-01-05")``    that candle is served twice in its page
``corrupt("BTC/USDT", "2024-01-05", field="close", value=float("nan"))``
                                           that field served as Binance would write it ("NaN", "-1.0")
``clear()``                                removes every fault
One request uses at most one count fault, the first armed in the order failure, malformed, truncated,
empty, unordered.
"""

from __future__ import annotations

import threading

from forecaster.exchange.binance_wire import PRICE_FIELDS
from forecaster.exchange.faults import HttpFailure, RequestFaults, RowFaults
from forecaster.exchange.loopback import KLINES_PATH, TimeLike, to_ms

# Count faults other than HTTP failures, in the order a request takes them (also RequestFaults' fields).
_COUNT_FAULTS = ("malformed", "truncated", "empty", "unordered")


class Faults:
    """Thread-safe fault injection for a ``LoopbackExchange``; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._latency = 0.0
        self._failures: dict[str, list[HttpFailure]] = {}
        self._counts: dict[tuple[str, str], int] = {}
        self._skips: dict[tuple[str, str], int] = {}
        self._dropped: set[tuple[str, int]] = set()
        self._duplicated: set[tuple[str, int]] = set()
        self._corrupted: dict[tuple[str, int], dict[str, float]] = {}

    def set_latency(self, seconds: float) -> None:
        """Delay every response, on every path, by ``seconds``."""
        with self._lock:
            self._latency = max(0.0, seconds)

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 503,
        retry_after: float | None = None,
        code: int | None = None,
        path: str = KLINES_PATH,
    ) -> None:
        """Answer the next ``count`` requests to ``path`` with HTTP ``status`` instead of the data.

        429 and 418 carry Binance's ``{"code": -1003}`` body and a ``Retry-After`` header (``retry_after``,
        default 1 s). Other statuses carry a plain-text body as a gateway would, or Binance's JSON error
        body with ``code`` when it is given.
        """
        if status in (418, 429):
            code = -1003 if code is None else code
            retry_after = 1 if retry_after is None else retry_after
        with self._lock:
            self._failures.setdefault(path, []).extend([HttpFailure(status, retry_after, code)] * count)

    def malformed_next(self, count: int = 1, *, path: str = KLINES_PATH, after: int = 0) -> None:
        """Answer the next ``count`` requests to ``path`` with a 200 whose JSON body is truncated."""
        self._arm("malformed", count, path, after)

    def truncated_next(self, count: int = 1, *, path: str = KLINES_PATH, after: int = 0) -> None:
        """Close the connection halfway through the body of the next ``count`` answers to ``path``."""
        self._arm("truncated", count, path, after)

    def empty_next(self, count: int = 1, *, after: int = 0) -> None:
        """Answer the next ``count`` klines requests with an empty page ``[]``."""
        self._arm("empty", count, KLINES_PATH, after)

    def unordered_next(self, count: int = 1, *, after: int = 0) -> None:
        """Serve the next ``count`` klines pages newest-first."""
        self._arm("unordered", count, KLINES_PATH, after)

    def _arm(self, kind: str, count: int, path: str, after: int) -> None:
        """Arm ``count`` faults of ``kind`` on ``path``, taken once ``after`` requests to it have passed."""
        with self._lock:
            self._counts[(kind, path)] = self._counts.get((kind, path), 0) + count
            self._skips[(kind, path)] = max(0, after)

    def drop(self, symbol: str, open_time: TimeLike) -> None:
        """Leave the candle of ``symbol`` opening at ``open_time`` out of every page."""
        with self._lock:
            self._dropped.add((symbol, to_ms(open_time)))

    def duplicate(self, symbol: str, open_time: TimeLike) -> None:
        """Serve the candle of ``symbol`` opening at ``open_time`` twice in a row (the page keeps ``limit``)."""
        with self._lock:
            self._duplicated.add((symbol, to_ms(open_time)))

    def corrupt(self, symbol: str, open_time: TimeLike, *, field: str = "close", value: float = float("nan")) -> None:
        """Serve ``field`` (open, high, low, close or volume) of that candle as ``value``, e.g. NaN or -1."""
        if field not in PRICE_FIELDS:
            raise ValueError(f"unknown candle field {field!r}: use one of {', '.join(PRICE_FIELDS)}")
        with self._lock:
            self._corrupted.setdefault((symbol, to_ms(open_time)), {})[field] = value

    def clear(self) -> None:
        """Remove every fault and the latency."""
        with self._lock:
            self._reset()

    def take(self, path: str) -> RequestFaults:
        """Use up the count fault that applies to one request to ``path``, if one is armed."""
        with self._lock:
            failures = self._failures.get(path)
            if failures:
                return RequestFaults(self._latency, failures.pop(0))
            chosen = next(
                (
                    kind
                    for kind in _COUNT_FAULTS
                    if self._counts.get((kind, path), 0) > 0 and self._skips.get((kind, path), 0) == 0
                ),
                None,
            )
            for kind in _COUNT_FAULTS:
                if self._skips.get((kind, path), 0) > 0:
                    self._skips[(kind, path)] -= 1
            if chosen is None:
                return RequestFaults(self._latency)
            self._counts[(chosen, path)] -= 1
            return RequestFaults(self._latency, None, **{chosen: True})

    def rows(self, symbol: str) -> RowFaults:
        """The candle faults of ``symbol``."""
        with self._lock:
            return RowFaults(
                frozenset(ms for sym, ms in self._dropped if sym == symbol),
                frozenset(ms for sym, ms in self._duplicated if sym == symbol),
                {ms: dict(values) for (sym, ms), values in self._corrupted.items() if sym == symbol},
            )
