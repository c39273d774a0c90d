"""Ingest benchmarks: candle upsert throughput, and the incremental daily ingest through ccxt.

1. Upsert throughput on SQLite (a temp file) and PostgreSQL (a throwaway database): synthetic candles
   written through ``forecaster.ingest.store.store_candles`` in one transaction per symbol, as
   production does, into an empty table, then (a) the same candles again, unchanged, and (b) the same
   candles with every close changed. The reference, measured in the same run on the same database, is
   a plain SQLAlchemy Core ``insert()`` executemany of the same rows (built from the frame the same
   way) into an identical scratch table without conflict handling, run once before and once after
   the upserts; the ratios divide by the mean of the two.
2. Daily ingest through real ccxt and HTTP against the loopback Binance server: a backfill of every
   symbol, then incremental days (the server gains one day and its clock moves on), each by a fresh
   exchange instance as a daily run would create. Days alternate between ccxt's rate limiter on (as
   production runs) and off (``enableRateLimit = False`` on the benchmark's instance: a reference
   only, never a setting to run against a real exchange). The limiter's sleep is also measured
   directly by timing ``exchange.throttle``.

    nice python -m benchmarks.bench_ingest --out /tmp/bench_ingest.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import ccxt
import pandas as pd
from sqlalchemy import Engine, MetaData, Table, create_engine, insert, text
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import redact_url
from forecaster.db.engine import make_engine, session_factory
from forecaster.db.migrate import upgrade
from forecaster.db.models import Candle
from forecaster.exchange.client import make_exchange
from forecaster.exchange.loopback import LoopbackExchange
from forecaster.exchange.retry import RetryPolicy
from forecaster.exchange.synthetic import DEMO_SYMBOLS, EPOCH, synthetic_candles
from forecaster.ingest.service import ingest_from_exchange
from forecaster.ingest.store import store_candles
from forecaster.series import DEMO, SeriesKey
from tests.support.postgres import created_database

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
EXTRA_BASES = ("DOT", "TRX", "ATOM", "UNI", "XLM", "ETC", "FIL", "NEAR", "APT", "ARB")
DAY = timedelta(days=1)
CLOSE_CHANGE = 1e-6  # relative change of every close in the "changed" pass: far above store's rtol 1e-12


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="admin URL; a throwaway database is made")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--candles", type=int, default=100_000, help="candles in the upsert benchmark")
    parser.add_argument("--symbols", type=int, default=20, help="symbols in both benchmarks")
    parser.add_argument("--history-days", type=int, default=2000, help="days per symbol in the backfill")
    parser.add_argument("--daily-rounds", type=int, default=3, help="incremental days with the limiter on (and off)")
    parser.add_argument("--out", type=Path, help="write every figure as JSON")
    return parser.parse_args(argv)


# data


def symbol_names(count: int) -> list[str]:
    bases = [symbol.split("/")[0] for symbol in DEMO_SYMBOLS] + list(EXTRA_BASES)
    bases += [f"X{index:03d}" for index in range(max(0, count - len(bases)))]
    return [f"{base}/USDT" for base in bases[:count]]


def daily_frames(symbols: list[str], days: int) -> dict[str, pd.DataFrame]:
    """``days`` daily synthetic candles per symbol from ``EPOCH``."""
    return {symbol: synthetic_candles(symbol, EPOCH, EPOCH + (days - 1) * DAY) for symbol in symbols}


def plain_rows(key: SeriesKey, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows ``store_candles`` builds for new candles, built the same way."""
    now = datetime.now(UTC)
    return [
        {"exchange": key.exchange, "symbol": key.symbol, "timeframe": key.timeframe, "ingested_at": now, **row}
        for row in frame.assign(ts=frame["ts"].dt.to_pydatetime()).to_dict("records")
    ]


# databases


def postgres_unreachable(admin_url: str) -> str | None:
    """Why the PostgreSQL server cannot be used, or None."""
    try:
        engine = create_engine(admin_url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means: no server to measure
        first_line = (str(exc).strip().splitlines() or [""])[0]
        return f"{type(exc).__name__}: {first_line}"
    return None


def postgres_version(admin_url: str) -> str:
    engine = create_engine(admin_url)
    with engine.connect() as conn:
        found = str(conn.execute(text("SHOW server_version")).scalar())
    engine.dispose()
    return found


@contextmanager
def throwaway_sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="forecaster_bench_") as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


def database(backend: str, admin_url: str) -> AbstractContextManager[str]:
    if backend == "postgresql":  # a fresh forecaster_bench_<random> database, dropped afterwards
        return created_database(create_engine(admin_url, isolation_level="AUTOCOMMIT"), prefix="forecaster_bench")
    return throwaway_sqlite()


@contextmanager
def migrated(url: str) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    engine = make_engine(url)
    upgrade(engine)
    try:
        yield engine, session_factory(engine)
    finally:
        engine.dispose()


# 1. upsert throughput


def timed(step: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = step()
    return time.perf_counter() - started, result


def plain_insert_pass(sessions: sessionmaker[Session], table: Table, frames: dict[str, pd.DataFrame]) -> int:
    for symbol, frame in frames.items():
        with sessions.begin() as session:
            session.execute(insert(table), plain_rows(SeriesKey(DEMO, symbol), frame))
    return sum(len(frame) for frame in frames.values())


def upsert_pass(sessions: sessionmaker[Session], frames: dict[str, pd.DataFrame]) -> tuple[int, int]:
    new = updated = 0
    for symbol, frame in frames.items():
        with sessions.begin() as session:
            counts = store_candles(session, SeriesKey(DEMO, symbol), frame)
        new, updated = new + counts.new, updated + counts.updated
    return new, updated


def bench_upserts(backend: str, url: str, frames: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    """Plain insert, upserts into empty / unchanged / changed, plain insert again; one row each."""
    total = sum(len(frame) for frame in frames.values())
    changed = {symbol: frame.assign(close=frame["close"] * (1 + CLOSE_CHANGE)) for symbol, frame in frames.items()}
    with migrated(url) as (engine, sessions):
        scratch = Candle.__table__.to_metadata(MetaData(), name="bench_plain_insert")

        def reference() -> float:
            scratch.create(engine)
            seconds = timed(lambda: plain_insert_pass(sessions, scratch, frames))[0]
            scratch.drop(engine)
            return seconds

        references = [reference()]
        passes = [
            ("upsert into empty table", (total, 0), timed(lambda: upsert_pass(sessions, frames))),
            ("(a) upsert, same candles again", (0, 0), timed(lambda: upsert_pass(sessions, frames))),
            ("(b) upsert, every close changed", (0, total), timed(lambda: upsert_pass(sessions, changed))),
        ]
        references.append(reference())
    reference_s = statistics.mean(references)
    rows = [
        row(
            backend,
            "plain Core insert (reference)",
            total,
            total,
            reference_s,
            reference_s,
            runs_s=[round(s, 3) for s in references],
        )
    ]
    for name, expected, (seconds, (new, updated)) in passes:
        if (new, updated) != expected:
            raise AssertionError(f"{backend} {name}: wrote {new} new, {updated} updated; expected {expected}")
        rows.append(row(backend, name, total, new + updated, seconds, reference_s, new=new, updated=updated))
    return rows


def row(
    backend: str, name: str, candles: int, written: int, seconds: float, reference_s: float, **extra: Any
) -> dict[str, Any]:
    return {
        "backend": backend,
        "operation": name,
        "candles": candles,
        "written": written,
        "seconds": seconds,
        "candles_per_s": candles / seconds,
        "ratio_to_plain_insert": reference_s / seconds,
        **extra,
    }


# 2. daily ingest through ccxt


def instrumented_exchange(server: LoopbackExchange, rate_limit: bool) -> tuple[ccxt.Exchange, list[float]]:
    """A fresh ccxt binance instance on the loopback server; the list collects the limiter's sleeps."""
    exchange = make_exchange("binance", server.url)
    exchange.enableRateLimit = rate_limit
    slept: list[float] = []
    throttle = exchange.throttle

    def timed_throttle(cost: float | None = None) -> None:
        started = time.perf_counter()
        throttle(cost)
        slept.append(time.perf_counter() - started)

    exchange.throttle = timed_throttle
    return exchange, slept


def ingest_all(
    server: LoopbackExchange, sessions: sessionmaker[Session], symbols: list[str], *, rate_limit: bool
) -> dict[str, Any]:
    """Ingest every symbol with one fresh exchange instance, as one daily run does; time it."""
    server.reset_requests()
    started = time.perf_counter()
    exchange, slept = instrumented_exchange(server, rate_limit)
    new = fetched = 0
    for symbol in symbols:
        summary = ingest_from_exchange(exchange, sessions, SeriesKey("binance", symbol, "1d"), policy=RetryPolicy())
        new, fetched = new + summary.new, fetched + summary.fetched
    wall = time.perf_counter() - started
    return {
        "symbols": len(symbols),
        "new": new,
        "fetched": fetched,
        "klines_requests": server.klines_requests,
        "requests": len(server.requests),
        "wall_s": wall,
        "s_per_symbol": wall / len(symbols),
        "limiter_sleep_s": sum(slept),
    }


def bench_daily(backend: str, url: str, symbols: list[str], history_days: int, rounds: int) -> list[dict[str, Any]]:
    frames = daily_frames(symbols, history_days + 2 * rounds)
    last = EPOCH + (history_days - 1) * DAY
    results = []
    with (
        migrated(url) as (_, sessions),
        LoopbackExchange(
            {s: f.iloc[:history_days] for s, f in frames.items()}, now=last + DAY + timedelta(minutes=10)
        ) as server,
    ):
        backfill = ingest_all(server, sessions, symbols, rate_limit=True)
        expect(backfill["new"], len(symbols) * history_days, "backfill")
        results.append({"backend": backend, "step": f"backfill, {history_days} days each", **backfill})
        for day in range(2 * rounds):
            rate_limit = day % 2 == 0
            for symbol, frame in frames.items():
                server.extend(symbol, frame.iloc[history_days + day : history_days + day + 1])
            server.set_clock(last + (day + 2) * DAY + timedelta(minutes=10))
            daily = ingest_all(server, sessions, symbols, rate_limit=rate_limit)
            expect(daily["new"], len(symbols), f"day {day + 1}")
            step = "daily +1 day, limiter on" if rate_limit else "daily +1 day, limiter OFF (reference only)"
            results.append({"backend": backend, "step": step, "day": day + 1, **daily})
    return results


def expect(found: int, wanted: int, what: str) -> None:
    if found != wanted:
        raise AssertionError(f"{what}: {found} new candles stored, expected {wanted}")


def summarise_daily(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per backend and step: the backfill, and the median of the days of each limiter mode."""
    rows: list[dict[str, Any]] = []
    for key in dict.fromkeys((r["backend"], r["step"]) for r in results):
        group = [r for r in results if (r["backend"], r["step"]) == key]
        middle = sorted(group, key=lambda r: r["wall_s"])[(len(group) - 1) // 2]
        rows.append({**middle, "days": len(group), "wall_s_all": [round(r["wall_s"], 3) for r in group]})
    return rows


# report


def machine(postgres: str | None) -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "nice": os.nice(0),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres,
        **{name: version(name) for name in ("sqlalchemy", "psycopg", "ccxt", "pandas", "numpy")},
    }


def markdown(columns: list[tuple[str, str, Callable[[Any], str]]], rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(title for title, _, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(name)) for _, name, fmt in columns) + " |" for r in rows]
    return "\n".join(lines)


def upsert_table(rows: list[dict[str, Any]]) -> str:
    return markdown(
        [
            ("backend", "backend", str),
            ("operation", "operation", str),
            ("candles", "candles", "{:,}".format),
            ("rows written", "written", "{:,}".format),
            ("seconds", "seconds", "{:.2f}".format),
            ("candles/s", "candles_per_s", "{:,.0f}".format),
            ("speed vs plain insert", "ratio_to_plain_insert", "{:.2f}x".format),
        ],
        rows,
    )


def daily_table(rows: list[dict[str, Any]]) -> str:
    return markdown(
        [
            ("backend", "backend", str),
            ("step", "step", str),
            ("days", "days", str),
            ("symbols", "symbols", str),
            ("new candles", "new", "{:,}".format),
            ("klines requests", "klines_requests", str),
            ("all requests", "requests", str),
            ("wall s (median)", "wall_s", "{:.2f}".format),
            ("s/symbol", "s_per_symbol", "{:.3f}".format),
            ("limiter sleep s", "limiter_sleep_s", "{:.2f}".format),
            ("wall s, each day", "wall_s_all", lambda v: ", ".join(map(str, v))),
        ],
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    shown = [redact_url(arg) if arg == args.postgres_url else arg for arg in given]  # no password in the output
    command = shlex.join(["python", "-m", "benchmarks.bench_ingest", *shown])
    backends = ["sqlite"]
    skipped = "not asked (--no-postgres)" if args.no_postgres else postgres_unreachable(args.postgres_url)
    if skipped:
        print(f"PostgreSQL skipped ({redact_url(args.postgres_url)}): {skipped}")
    else:
        backends.append("postgresql")
    info = machine(None if skipped else postgres_version(args.postgres_url))
    print(f"command: {command}")
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    started = time.perf_counter()

    symbols = symbol_names(args.symbols)
    frames = daily_frames(symbols, args.candles // args.symbols)
    upserts = []
    for backend in backends:
        with database(backend, args.postgres_url) as url:
            upserts += bench_upserts(backend, url, frames)
    print("\n## Upsert throughput\n\n" + upsert_table(upserts), flush=True)

    daily = []
    for backend in backends:
        with database(backend, args.postgres_url) as url:
            daily += bench_daily(backend, url, symbols, args.history_days, args.daily_rounds)
    daily_rows = summarise_daily(daily)
    print("\n## Daily ingest through ccxt and the loopback exchange\n\n" + daily_table(daily_rows))

    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    total = time.perf_counter() - started
    print(f"\nload average at the end: {info['load_average_end']}; benchmark time {total:.0f} s")
    if args.out:
        results = {"command": command, "machine": info, "upserts": upserts, "daily": daily, "daily_summary": daily_rows}
        args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
