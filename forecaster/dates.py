"""Parsing user dates: always timezone-aware UTC."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pandas as pd

from forecaster.errors import InputError

# YYYY-MM-DD, optionally a time (hours and minutes, seconds, fractions) and a UTC offset (Z or +HH:MM).
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?")


def parse_date(text: str, *, option: str = "date", allow_future: bool = False) -> datetime:
    """An ISO 8601 date ``YYYY-MM-DD`` (or an ISO datetime such as ``2026-01-12T00:00:00+02:00``; no offset
    means UTC) to an aware UTC datetime.

    Nothing else is read: ``01/12/2026`` or ``1.12.2026`` could be the 12th of January or the 1st of
    December, so they are refused rather than guessed.
    """
    stripped = text.strip()
    if not ISO_DATE.fullmatch(stripped):
        raise InputError(f"bad {option} {text!r}: use an ISO date YYYY-MM-DD, e.g. 2026-01-12")
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        raise InputError(f"bad {option} {text!r}: no such day (use YYYY-MM-DD)") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if not allow_future and moment > datetime.now(UTC):
        raise InputError(f"bad {option} {text!r}: it lies in the future")
    return moment


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | str) -> datetime:
    """An aware UTC datetime from a datetime or ISO string (naive means UTC)."""
    ts = pd.Timestamp(value)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


def day_start(day: date) -> datetime:
    """The start of a calendar day in UTC: the open time of that day's daily candle."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
