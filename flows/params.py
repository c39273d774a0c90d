"""Typed flow parameters, each one a top-level parameter of its flow.

``prefect deployment run daily/daily --param as_of=2026-11-24`` replaces that one parameter and keeps
the deployment's others; Prefect refuses unknown names, pydantic refuses unknown keys inside ``job``.
No default names an exchange: the offline demo belongs to ``forecaster run --exchange demo``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import Field

from forecaster.errors import InputError
from forecaster.series import SeriesKey
from forecaster.timeframes import require_daily

Pairs = Annotated[list[SeriesKey], Field(min_length=1, description="The series to run: exchange, symbol, timeframe.")]
AsOf = Annotated[date | None, Field(description="Forecast as of this day's candle (UTC); default: the newest.")]
CatchUpDays = Annotated[int, Field(ge=0, le=366, description="Missed or incomplete days to fill in, at most.")]
ExchangeConcurrency = Annotated[
    int | None,
    Field(
        ge=0,
        le=64,
        description="Parallel ingests per exchange (a Prefect global concurrency limit); "
        "default FORECASTER_EXCHANGE_CONCURRENCY (2); 0: no limit.",
    ),
]


def pairs_of(exchange: str, symbols: list[str], timeframe: str = "1d") -> list[SeriesKey]:
    return [SeriesKey(exchange, symbol, timeframe) for symbol in symbols]


def check_pairs(pairs: list[SeriesKey]) -> None:
    """Each series once, and daily: the job models daily series only (README, "Timeframes")."""
    if len(set(pairs)) != len(pairs):
        raise InputError("the same (exchange, symbol, timeframe) appears twice in pairs")
    for pair in pairs:
        require_daily(pair.timeframe)


def check_day(day: date | None, name: str) -> None:
    """A day that has begun (UTC); whether its candle has closed is the plan's to say."""
    if day is not None and day > datetime.now(UTC).date():
        raise InputError(f"{name} {day} lies in the future (UTC)")
