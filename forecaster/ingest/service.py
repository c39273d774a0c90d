"""Ingest one candle series: from an exchange (incremental or backfill) or from a CSV export.

The exchange path checks the market, pages every new closed candle into memory, validates it and
writes the batch with its ``ingest_runs`` record in one transaction: a failure leaves no partial
batch, only a ``failed`` record saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ccxt
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db.models import IngestRun
from forecaster.errors import ForecasterError, InputError
from forecaster.exchange.client import RECENT_ONLY, check_market, exchange_clock_ms, page_limit
from forecaster.exchange.retry import RetryPolicy
from forecaster.ingest.clean import CleanCandles, Gap, Rejected, clean_candles, find_gaps, rows_to_frame
from forecaster.ingest.fetch import FetchedCandles, PageProgress, fetch_candles
from forecaster.ingest.store import StoredRange, last_before, load_candles, store_candles, stored_range
from forecaster.series import SeriesKey
from forecaster.timeframes import timeframe_ms, to_timedelta

# Stored periods an incremental ingest looks back over for candles to ask for again.
REPAIR_CANDLES = 7
DAY_MS = 86_400_000
# Where a first backfill starts when nothing is stored and no --since is given.
DEFAULT_BACKFILL_START = datetime(2017, 1, 1, tzinfo=UTC)


@dataclass
class IngestSummary:
    """What one ingest did to one series."""

    key: SeriesKey
    fetched: int = 0
    new: int = 0
    updated: int = 0
    duplicates: int = 0
    still_open: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    stored: StoredRange = field(default_factory=lambda: StoredRange(0, None, None))
    warnings: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One human line: ``binance BTC/USDT 1d: 12 new, 0 updated; stored 2017-08-17..2026-03-30 (3136)``."""
        stored = (
            f"stored {self.stored.first:%Y-%m-%d}..{self.stored.last:%Y-%m-%d} ({self.stored.count})"
            if self.stored.first and self.stored.last
            else "nothing stored"
        )
        parts = [f"{self.key}: {self.new} new, {self.updated} updated; {stored}"]
        if self.gaps:
            missing = sum(gap.missing for gap in self.gaps)
            parts.append(f"{missing} missing in {len(self.gaps)} gaps: {', '.join(map(str, self.gaps[:5]))}")
        if self.rejected:
            parts.append(f"{len(self.rejected)} bad candles refused: {self.rejected[0].ts} {self.rejected[0].reason}")
        if self.duplicates:
            parts.append(f"{self.duplicates} duplicates dropped")
        return "; ".join(parts + self.warnings)


def ingest_from_exchange(
    exchange: ccxt.Exchange,
    sessions: sessionmaker[Session],
    key: SeriesKey,
    *,
    since: datetime | None = None,
    policy: RetryPolicy,
    on_page: Callable[[PageProgress], None] | None = None,
    run_id: int | None = None,
) -> IngestSummary:
    """Fetch every closed candle after the last stored one (or from ``since``) and store it.

    ``run_id``: the run (``runs.id``) this ingest belongs to, kept in its ``ingest_runs`` record.

    An incremental run also asks again for any candle missing among the last ``REPAIR_CANDLES``
    stored periods, so that a candle refused once (corrupt, or absent from a page) is healed by a
    later run when the exchange serves it right. ``policy`` says how each exchange request is retried.
    """
    step_ms = timeframe_ms(key.timeframe)
    started = datetime.now(UTC)
    try:
        check_market(exchange, key.symbol, key.timeframe, policy)
        with sessions() as session:
            start = since or resume_point(session, key)
        now_ms = exchange_clock_ms(exchange, policy)
        since_ms, until_ms = int(start.timestamp() * 1000), now_ms - step_ms + 1  # open times whose candle closed
        fetched = fetch_candles(
            exchange,
            key.symbol,
            key.timeframe,
            since_ms=since_ms,
            until_ms=until_ms,
            limit=page_limit(exchange),
            policy=policy,
            on_page=on_page,
        )
        rows = fetched.rows
        warnings = fetch_warnings(exchange, key, start, fetched, since_ms < until_ms, since)
        clean = clean_candles(rows_to_frame(rows), step_ms, now_ms)
        summary = save_batch(
            sessions,
            key,
            clean,
            fetched=len(rows),
            source="exchange",
            requested_since=since,
            started=started,
            run_id=run_id,
            warnings=warnings,
        )
    except InputError:
        raise  # a symbol or timeframe the exchange does not list: bad input, nothing is written
    except ForecasterError as exc:  # the exchange unreachable (from its market list on) or failing: on record
        record_failure(sessions, key, "exchange", since, started, exc, run_id=run_id)
        raise
    except ccxt.BaseError as exc:
        error = ForecasterError(f"{exchange.id} refused {key.symbol}: {type(exc).__name__}: {exc}")
        record_failure(sessions, key, "exchange", since, started, error, run_id=run_id)
        raise error from exc
    return summary


def fetch_warnings(
    exchange: ccxt.Exchange,
    key: SeriesKey,
    start: datetime,
    fetched: FetchedCandles,
    owed: bool,
    since: datetime | None,
) -> list[str]:
    """What the summary and the ``ingest_runs`` record say about a fetch beyond its counts.

    ``owed``: the exchange's clock says at least one candle closed after ``start``.
    """
    warnings = []
    if fetched.ended_ms is not None:
        last = datetime.fromtimestamp(fetched.ended_ms / 1000, UTC)
        shown = f"{last:%Y-%m-%d}" if timeframe_ms(key.timeframe) >= DAY_MS else f"{last:%Y-%m-%d %H:%M} UTC"
        warnings.append(f"no candles after {shown}: the market may be halted or delisted")
    elif not fetched.rows and owed:
        warnings.append(
            f"{exchange.id} served no candle from {start:%Y-%m-%d %H:%M} although its clock says one has closed"
        )
    if exchange.id in RECENT_ONLY and since is not None:
        warnings.append(
            f"{exchange.id} serves only its last {RECENT_ONLY[exchange.id]} candles: older history is not available"
        )
    return warnings


def resume_point(session: Session, key: SeriesKey) -> datetime:
    """Where an incremental ingest starts: the first missing candle among the last ``REPAIR_CANDLES``
    stored periods, else the period after the last stored candle (the default backfill start when empty)."""
    last = stored_range(session, key).last
    if last is None:
        return DEFAULT_BACKFILL_START
    step = to_timedelta(key.timeframe)
    recent = load_candles(session, key, start=last - step * REPAIR_CANDLES)
    gaps = find_gaps(recent["ts"], step, pd.Timestamp(last - step * (REPAIR_CANDLES + 1)))
    return gaps[0].first.to_pydatetime() if gaps else last + step


def save_batch(
    sessions: sessionmaker[Session],
    key: SeriesKey,
    clean: CleanCandles,
    *,
    fetched: int,
    source: str,
    requested_since: datetime | None,
    started: datetime,
    run_id: int | None = None,
    warnings: list[str] | None = None,
) -> IngestSummary:
    """Upsert a validated batch and record the ingest, in one transaction; report its gaps.

    ``warnings`` (e.g. "no candles after ...") go into the summary and the record's ``error`` column,
    which holds the notes of an ``ok`` ingest.
    """
    frame = clean.frame
    summary = IngestSummary(
        key,
        fetched=fetched,
        rejected=clean.rejected,
        duplicates=clean.duplicates,
        still_open=clean.still_open,
        warnings=list(warnings or []),
    )
    with sessions.begin() as session:
        if not frame.empty:
            previous = last_before(session, key, frame["ts"].iloc[0].to_pydatetime())
            summary.gaps = find_gaps(frame["ts"], to_timedelta(key.timeframe), _timestamp(previous))
            counts = store_candles(session, key, frame)
            summary.new, summary.updated = counts.new, counts.updated
        summary.stored = stored_range(session, key)
        session.add(
            _ingest_run(
                key,
                source,
                requested_since,
                started,
                status="ok",
                run_id=run_id,
                rows_fetched=fetched,
                rows_new=summary.new,
                rows_updated=summary.updated,
                rows_rejected=len(clean.rejected),
                first_ts=frame["ts"].iloc[0].to_pydatetime() if not frame.empty else None,
                last_ts=frame["ts"].iloc[-1].to_pydatetime() if not frame.empty else None,
                gaps=[gap.as_dict() for gap in summary.gaps],
                rejected=[{"ts": r.ts, "reason": r.reason} for r in clean.rejected],
                error="; ".join(summary.warnings)[:2000] or None,
            )
        )
    return summary


def record_failure(
    sessions: sessionmaker[Session],
    key: SeriesKey,
    source: str,
    requested_since: datetime | None,
    started: datetime,
    error: Exception,
    *,
    run_id: int | None = None,
) -> None:
    """Keep a ``failed`` ingest record; the candles of the failed batch were never written."""
    with sessions.begin() as session:
        session.add(
            _ingest_run(
                key,
                source,
                requested_since,
                started,
                status="failed",
                run_id=run_id,
                gaps=[],
                rejected=[],
                error=str(error)[:2000],
            )
        )


def _ingest_run(
    key: SeriesKey, source: str, requested_since: datetime | None, started: datetime, **outcome: Any
) -> IngestRun:
    """The ``ingest_runs`` record of one ingest, finished now."""
    return IngestRun(
        exchange=key.exchange,
        symbol=key.symbol,
        timeframe=key.timeframe,
        source=source,
        requested_since=requested_since,
        started_at=started,
        finished_at=datetime.now(UTC),
        **outcome,
    )


def _timestamp(value: datetime | None) -> pd.Timestamp | None:
    return pd.Timestamp(value) if value is not None else None
