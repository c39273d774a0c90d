"""The plan: which as-of days a run owes a forecast set for."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.dates import as_utc
from forecaster.db.models import Forecast
from forecaster.errors import InputError
from forecaster.ingest.store import load_candles, stored_range
from forecaster.model.baselines import baseline_names
from forecaster.results.forecasts import MODEL, complete_days
from forecaster.series import SeriesKey, of_series
from forecaster.timeframes import require_daily, to_timedelta


def days_to_forecast(
    sessions: sessionmaker[Session], key: SeriesKey, as_of: datetime | None, catch_up_days: int, run_kind: str
) -> list[datetime]:
    """The as-of days the job owes a forecast set for, oldest first.

    The target is ``as_of``, or the newest stored candle. Every stored day within ``catch_up_days``
    before the target (and not before the series' first forecast) whose forecast set is incomplete
    (the model or a baseline missing, e.g. after a failed training) is owed, holes left by re-runs of
    older days included; a series that was never forecast starts at the target alone.
    """
    require_daily(key.timeframe)
    with sessions() as session:
        target = as_of or stored_range(session, key).last
        if target is None:
            raise InputError(f"no candles of {key}: ingest first")
        first_done = session.scalar(
            select(func.min(Forecast.as_of)).where(
                of_series(Forecast, key),
                Forecast.run_kind == run_kind,
                Forecast.as_of <= target,
            )
        )
        start = target if first_done is None else max(as_utc(first_done), target - timedelta(days=catch_up_days))
        stored = load_candles(session, key, start=start, end=target)["ts"]
        done = complete_days(session, key, run_kind, start, target, [MODEL, *baseline_names()])
    if as_of is not None and pd.Timestamp(as_of) not in set(stored):
        raise InputError(_missing_day(key, as_of))
    return [ts.to_pydatetime() for ts in stored if ts.to_pydatetime() not in done]


def _missing_day(key: SeriesKey, as_of: datetime) -> str:
    closes = as_of + to_timedelta(key.timeframe).to_pytimedelta()
    if closes > datetime.now(UTC):
        return f"the candle of {key} for {as_of:%Y-%m-%d} has not closed yet: it closes at {closes:%Y-%m-%d %H:%M} UTC"
    return f"no candle of {key} for {as_of:%Y-%m-%d}: ingest it first, or pick a stored day"


def newest_day(sessions: sessionmaker[Session], keys: Sequence[SeriesKey]) -> datetime | None:
    """The as-of day a run without ``as_of`` uses: the newest stored candle of its series (None: none stored)."""
    with sessions() as session:
        days = [stored_range(session, key).last for key in keys]
    return max((day for day in days if day is not None), default=None)
