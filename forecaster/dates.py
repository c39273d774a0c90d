"""Parsing user dates: always timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from forecaster.errors import InputError


def parse_date(text: str, *, option: str = "date", allow_future: bool = False) -> datetime:
    """``YYYY-MM-DD`` (or an ISO datetime; naive means UTC) to an aware UTC datetime."""
    try:
        ts = pd.Timestamp(text.strip())
    except (ValueError, TypeError):
        raise InputError(f"bad {option} {text!r}: use YYYY-MM-DD") from None
    if pd.isna(ts):
        raise InputError(f"bad {option} {text!r}: use YYYY-MM-DD")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if not allow_future and ts > pd.Timestamp.now(tz="UTC"):
        raise InputError(f"bad {option} {text!r}: it lies in the future")
    return ts.to_pydatetime()


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | str) -> datetime:
    """An aware UTC datetime from a datetime or ISO string (naive means UTC)."""
    ts = pd.Timestamp(value)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


def day_start(day: date) -> datetime:
    """The start of a calendar day in UTC: the open time of that day's daily candle."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
