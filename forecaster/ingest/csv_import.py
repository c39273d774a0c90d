"""Importing exported candle history from CSV, with the exchange path's validation and upsert.

A CSV import is strict: one bad row (text in a number, high below low, a bad date) refuses the
whole file and nothing is written, so that a user fixes the file rather than losing rows silently.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.errors import InputError
from forecaster.exchange.names import check_exchange_id, check_symbol
from forecaster.ingest.clean import clean_candles
from forecaster.ingest.service import IngestSummary, save_batch
from forecaster.series import CANDLE_COLUMNS, SeriesKey
from forecaster.timeframes import is_aligned, timeframe_ms

TIME_COLUMNS = ("timestamp", "date", "datetime", "time", "open_time", "ts")


def read_candle_csv(path: Path) -> pd.DataFrame:
    """Read a CSV into raw candles (``ts`` in epoch ms); refuse missing columns and unparsable values."""
    try:
        raw = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV ({exc})") from None
    raw.columns = [str(column).strip().lower() for column in raw.columns]
    time_column = next((name for name in TIME_COLUMNS if name in raw.columns), None)
    missing = [name for name in CANDLE_COLUMNS[1:] if name not in raw.columns]
    if time_column is None or missing:
        needed = missing + ([] if time_column else ["timestamp (or date)"])
        raise InputError(f"{path}: missing column(s) {', '.join(needed)}; found {', '.join(raw.columns)}")
    frame = pd.DataFrame({"ts": _parse_times(raw[time_column], path)})
    for column in CANDLE_COLUMNS[1:]:
        values = pd.to_numeric(raw[column], errors="coerce")
        bad = values.isna() & raw[column].notna()
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2  # 1-based, after the header
            raise InputError(f"{path}:{line}: {column} is not a number: {raw[column][bad].iloc[0]!r}")
        frame[column] = values
    return frame


def _parse_times(values: pd.Series, path: Path) -> pd.Series:
    """ISO dates and datetimes (any offset, naive read as UTC) or epoch milliseconds -> epoch ms."""
    text = values.str.strip()
    if text.str.fullmatch(r"\d{11,}").all():
        return text.astype("int64")
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    if parsed.isna().any():
        line = int(parsed.isna().to_numpy().nonzero()[0][0]) + 2
        raise InputError(f"{path}:{line}: not a date or epoch milliseconds: {values[parsed.isna()].iloc[0]!r}")
    return (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)


def import_csv(sessions: sessionmaker[Session], path: Path, key: SeriesKey) -> IngestSummary:
    """Validate every row of ``path``; store them all, or nothing when one is bad.

    The exchange id and the symbol are checked first, offline (``forecaster.exchange.names``).
    """
    check_exchange_id(key.exchange)
    check_symbol(key.symbol)
    started = datetime.now(UTC)
    step_ms = timeframe_ms(key.timeframe)
    raw = read_candle_csv(path)
    off_grid = ~is_aligned(raw["ts"], step_ms)
    if off_grid.any():
        row = int(off_grid.to_numpy().nonzero()[0][0])
        instant = pd.Timestamp(int(raw["ts"].iloc[row]), unit="ms", tz="UTC")
        raise InputError(
            f"{path}:{row + 2}: {instant.isoformat()} (in UTC) is not a {key.timeframe} candle open time; "
            "nothing imported"
        )
    clean = clean_candles(raw, step_ms, int(started.timestamp() * 1000))
    if clean.rejected:
        first = clean.rejected[0]
        raise InputError(
            f"{path}: {len(clean.rejected)} bad candle(s), nothing imported; first: {first.ts} {first.reason}"
        )
    return save_batch(sessions, key, clean, fetched=len(raw), source="csv", requested_since=None, started=started)
