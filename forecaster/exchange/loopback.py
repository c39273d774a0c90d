"""A loopback HTTP server that speaks Binance's public spot REST API, for tests and the offline demo.

``LoopbackExchange`` serves candle frames on ``127.0.0.1`` (a free port) so that ccxt's stock ``binance``
class works against it unpatched: only ``exchange.urls['api']`` changes, through
``make_exchange("binance", server.url)``.

Endpoints (answers in Binance's documented shapes)
    ``GET /api/v3/ping``          ``{}``
    ``GET /api/v3/time``          ``{"serverTime": ms}`` from the server's clock
    ``GET /api/v3/exchangeInfo``  one active spot market (status TRADING, SPOT permission, PRICE_FILTER,
                                  LOT_SIZE and NOTIONAL filters) per served symbol
    ``GET /fapi/v1/exchangeInfo``, ``GET /dapi/v1/exchangeInfo``
                                  USDⓈ-M and COIN-M futures: no symbols (ccxt loads them by default)
    ``GET /api/v3/klines``        ``symbol``, ``interval``, ``startTime``, ``endTime``, ``limit`` (default 500,
                                  1 to 1000): with ``startTime`` the first ``limit`` candles whose open time is
                                  in ``[startTime, endTime]``, otherwise the last ``limit`` up to ``endTime``;
                                  oldest first; rows ``[openTime, "open", "high", "low", "close", "volume",
                                  closeTime, "quoteVolume", trades, "takerBase", "takerQuote", "0"]``.
    Errors are HTTP 400 with ``{"code": ..., "msg": ...}``: -1121 unknown symbol (ccxt ``BadSymbol``), -1120
    an interval other than the served one (``BadRequest``), -1102 a missing parameter, -1100 a non-integer,
    -1130 a limit outside 1..1000, -1023 startTime after endTime. Unknown paths answer 404.

Clock
    Only candles whose open time is at or before the clock are served, so a clock inside a candle serves
    that candle as the still-open one, as Binance does (its values are the frame's: the server does not
    fake a partial candle). ``now=None`` follows the real time; ``set_clock`` moves it.

Faults
    ``LoopbackExchange(..., faults=...)`` takes a ``FaultSource``: for each request it says which faults to
    apply (latency, an HTTP error, a malformed, truncated, empty or unordered answer; dropped, duplicated or
    corrupt candles). The server applies them; arming them is test equipment (``tests/support/faults.py``).
    The default, ``NO_FAULTS``, serves every answer as it is.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

from forecaster.exchange.binance_wire import (
    PRICE_FIELDS,
    RATE_LIMITS,
    ApiError,
    Response,
    failure_response,
    format_decimal,
    json_response,
    kline_row,
    market_id,
    symbol_info,
)
from forecaster.exchange.faults import NO_FAULTS, FaultSource, RequestFaults
from forecaster.series import CANDLE_COLUMNS
from forecaster.timeframes import timeframe_ms

KLINES_PATH = "/api/v3/klines"
DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TimeLike = datetime | str


def to_ms(when: TimeLike) -> int:
    """Milliseconds since the epoch of a tz-aware datetime or an ISO string (read as UTC when naive)."""
    if isinstance(when, str):
        stamp = pd.Timestamp(when)
        moment: datetime = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp
    else:
        moment = when
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass a timezone-aware UTC datetime")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True)
class _Series:
    """One symbol's candles as arrays: open times (ms) and rows of open, high, low, close, volume."""

    open_ms: np.ndarray
    values: np.ndarray


def _series(frame: pd.DataFrame) -> _Series:
    missing = [column for column in CANDLE_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"candle frame lacks columns {missing}: expected {list(CANDLE_COLUMNS)}")
    stamps = pd.DatetimeIndex(frame["ts"])
    if stamps.tz is None:
        raise ValueError("candle frame column ts is naive: use tz-aware UTC datetimes")
    open_ms = stamps.tz_convert(UTC).as_unit("ms").asi8
    values = frame[list(PRICE_FIELDS)].to_numpy(dtype=np.float64)
    order = np.argsort(open_ms, kind="stable")
    return _Series(np.ascontiguousarray(open_ms[order]), np.ascontiguousarray(values[order]))


def _merge(old: _Series, new: _Series) -> _Series:
    """``old`` with ``new``'s rows added; a row of ``new`` replaces one of ``old`` at the same open time."""
    keep = ~np.isin(old.open_ms, new.open_ms)
    open_ms = np.concatenate([old.open_ms[keep], new.open_ms])
    values = np.concatenate([old.values[keep], new.values])
    order = np.argsort(open_ms, kind="stable")
    return _Series(open_ms[order], values[order])


def _int_param(query: Mapping[str, str], name: str) -> int | None:
    text = query.get(name)
    if text is None or text == "":
        return None
    if not text.isdigit():
        raise ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")
    return int(text)


class _HTTPServer(ThreadingHTTPServer):
    """The stdlib server, holding the ``LoopbackExchange`` its handlers answer for."""

    daemon_threads = True

    def __init__(self, exchange: LoopbackExchange) -> None:
        super().__init__(("127.0.0.1", exchange.port), _Handler)
        self.exchange = exchange

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up early (a ccxt timeout during injected latency); report the rest."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Parses a GET, asks the ``LoopbackExchange`` for the answer and writes it (HTTP/1.0, one per connection)."""

    server: _HTTPServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {name: values[-1] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
        response = self.server.exchange.handle(parts.path, query)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        declared = len(response.body) if response.declared_length is None else response.declared_length
        self.send_header("Content-Length", str(declared))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests count requests through ``LoopbackExchange.requests``."""


class LoopbackExchange:
    """A Binance-compatible HTTP server on 127.0.0.1 serving candle frames keyed by ccxt unified symbol.

    Use it as a context manager (or ``start``/``stop``) and point ccxt at it with
    ``make_exchange("binance", server.url)``. Frames have the columns ``ts`` (tz-aware UTC candle open
    time), open, high, low, close, volume. Every public method is thread-safe.
    """

    def __init__(
        self,
        candles: Mapping[str, pd.DataFrame],
        *,
        timeframe: str = "1d",
        now: datetime | None = None,
        port: int = 0,
        faults: FaultSource = NO_FAULTS,
    ) -> None:
        self.timeframe = timeframe
        self.interval_ms = timeframe_ms(timeframe)
        self.port = port
        self.faults = faults
        self._lock = threading.Lock()
        self._series = {symbol: _series(frame) for symbol, frame in candles.items()}
        self._ids = {market_id(symbol): symbol for symbol in self._series}
        self._now_ms = None if now is None else to_ms(now)
        self._requests: list[tuple[str, dict[str, str]]] = []
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: dict[str, Callable[[Mapping[str, str], RequestFaults], Response]] = {
            "/api/v3/ping": lambda query, faults: json_response(200, {}),
            "/api/v3/time": lambda query, faults: json_response(200, {"serverTime": self.clock_ms()}),
            "/api/v3/exchangeInfo": lambda query, faults: json_response(200, self._exchange_info()),
            "/fapi/v1/exchangeInfo": lambda query, faults: json_response(200, self._futures_info("U_MARGINED")),
            "/dapi/v1/exchangeInfo": lambda query, faults: json_response(200, self._futures_info("COIN_MARGINED")),
            KLINES_PATH: self._klines,
        }

    # lifecycle

    def start(self) -> Self:
        """Bind a port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the loopback exchange is already running")
        self._server = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="loopback-exchange", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down, close its socket and join its thread."""
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server, self._thread = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        if self._server is None:
            raise RuntimeError("the loopback exchange is not running: use start() or a with block")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # clock and data

    def clock_ms(self) -> int:
        """The server's clock in milliseconds: the set time, or the real time when none is set."""
        with self._lock:
            now_ms = self._now_ms
        return to_ms(datetime.now(UTC)) if now_ms is None else now_ms

    def set_clock(self, now: datetime | None) -> None:
        """Move the clock (tz-aware); ``None`` follows the real time."""
        now_ms = None if now is None else to_ms(now)
        with self._lock:
            self._now_ms = now_ms

    def set_candles(self, symbol: str, frame: pd.DataFrame) -> None:
        """Serve ``frame`` as the candles of ``symbol`` (a new symbol joins exchangeInfo)."""
        series = _series(frame)
        with self._lock:
            self._series[symbol] = series
            self._ids[market_id(symbol)] = symbol

    def extend(self, symbol: str, frame: pd.DataFrame) -> None:
        """Add ``frame``'s candles to ``symbol``'s; a candle at an existing open time replaces the old one."""
        series = _series(frame)
        with self._lock:
            old = self._series.get(symbol)
            self._series[symbol] = series if old is None else _merge(old, series)
            self._ids[market_id(symbol)] = symbol

    @property
    def symbols(self) -> list[str]:
        """The served ccxt unified symbols."""
        with self._lock:
            return list(self._series)

    # request log

    @property
    def requests(self) -> list[tuple[str, dict[str, str]]]:
        """A copy of the (path, query) of every request seen, oldest first."""
        with self._lock:
            return [(path, dict(query)) for path, query in self._requests]

    @property
    def klines_requests(self) -> int:
        """How many requests reached ``/api/v3/klines``."""
        with self._lock:
            return sum(path == KLINES_PATH for path, _ in self._requests)

    def reset_requests(self) -> None:
        """Forget the requests seen so far."""
        with self._lock:
            self._requests.clear()

    # answering

    def handle(self, path: str, query: Mapping[str, str]) -> Response:
        """The answer to ``GET path?query``, with the faults armed for it."""
        with self._lock:
            self._requests.append((path, dict(query)))
        faults = self.faults.take(path)
        if faults.latency:
            time.sleep(faults.latency)
        if faults.failure is not None:
            return failure_response(faults.failure.status, faults.failure.retry_after, faults.failure.code)
        route = self._routes.get(path)
        if route is None:
            return Response(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html")
        try:
            response = route(query, faults)
        except ApiError as error:
            response = json_response(400, {"code": error.code, "msg": error.msg})
        if faults.malformed or faults.truncated:
            half = response.body[: max(1, len(response.body) // 2)]
            return replace(response, body=half, declared_length=len(response.body) if faults.truncated else None)
        return response

    def _exchange_info(self) -> dict[str, Any]:
        with self._lock:
            symbols = [symbol_info(symbol, series.values[:, 3]) for symbol, series in self._series.items()]
        return {
            "timezone": "UTC",
            "serverTime": self.clock_ms(),
            "rateLimits": RATE_LIMITS,
            "exchangeFilters": [],
            "symbols": symbols,
        }

    def _futures_info(self, futures_type: str) -> dict[str, Any]:
        return {
            "timezone": "UTC",
            "serverTime": self.clock_ms(),
            "futuresType": futures_type,
            "rateLimits": RATE_LIMITS,
            "exchangeFilters": [],
            "assets": [],
            "symbols": [],
        }

    def _klines(self, query: Mapping[str, str], faults: RequestFaults) -> Response:
        symbol, series = self._klines_series(query)
        limit = _int_param(query, "limit")
        limit = DEFAULT_LIMIT if limit is None else limit
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(-1130, "Data sent for parameter 'limit' is not valid.")
        start, end = _int_param(query, "startTime"), _int_param(query, "endTime")
        if start is not None and end is not None and start > end:
            raise ApiError(-1023, "Start time is greater than end time.")
        if faults.empty:
            return json_response(200, [])
        row_faults = self.faults.rows(symbol)
        last = self.clock_ms() if end is None else min(end, self.clock_ms())
        open_ms = series.open_ms
        visible = (open_ms <= last) & ~np.isin(open_ms, list(row_faults.dropped))
        if start is not None:
            chosen = np.flatnonzero(visible & (open_ms >= start))[:limit]
        else:
            chosen = np.flatnonzero(visible)[-limit:]
        rows: list[list[Any]] = []
        for index in chosen:
            ms = int(open_ms[index])
            values = dict(zip(PRICE_FIELDS, series.values[index].tolist(), strict=True))
            row = kline_row(ms, values, self.interval_ms)
            for name, value in row_faults.corrupted.get(ms, {}).items():
                row[1 + PRICE_FIELDS.index(name)] = format_decimal(value)
            rows.extend([row, row] if ms in row_faults.duplicated else [row])
        rows = rows[:limit]
        if faults.unordered:
            rows.reverse()
        return json_response(200, rows)

    def _klines_series(self, query: Mapping[str, str]) -> tuple[str, _Series]:
        for name in ("symbol", "interval"):
            if not query.get(name):
                raise ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        with self._lock:
            symbol = self._ids.get(query["symbol"])
            series = None if symbol is None else self._series[symbol]
        if symbol is None or series is None:
            raise ApiError(-1121, "Invalid symbol.")
        if query["interval"] != self.timeframe:
            raise ApiError(-1120, "Invalid interval.")
        return symbol, series
