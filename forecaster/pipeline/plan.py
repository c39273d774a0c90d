"""The plan: which as-of days a run owes a forecast set for."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.dates import as_utc
from forecaster.db.models import Forecast
from forecaster.errors import InputError
from forecaster.ingest.store import load_candles, stored_range
from forecaster.results.forecasts import MODEL, forecast_days
from forecaster.series import SeriesKey, of_series
from forecaster.timeframes import require_daily


def days_to_forecast(
    sessions: sessionmaker[Session], key: SeriesKey, as_of: datetime | None, catch_up_days: int, run_kind: str
) -> list[datetime]:
    """The as-of days the job owes a forecast set for, oldest first.

    The target is ``as_of``, or the newest stored candle. Days between the last day that has
    forecasts and the target (at most ``catch_up_days`` back) are caught up, when their candle
    is stored; a series that was never forecast starts at the target alone. A day is owed until the
    model's forecast is written: one whose model forecast was skipped (baselines only) is tried again.
    """
    require_daily(key.timeframe)
    with sessions() as session:
        newest = stored_range(session, key).last
        target = as_of or newest
        if target is None:
            raise InputError(f"no candles of {key}: ingest first")
        last_done = session.scalar(
            select(func.max(Forecast.as_of)).where(
                of_series(Forecast, key),
                Forecast.run_kind == run_kind,
                Forecast.as_of <= target,
            )
        )
        start = target if last_done is None else max(as_utc(last_done), target - timedelta(days=catch_up_days))
        stored = load_candles(session, key, start=start, end=target)["ts"]
        done = forecast_days(session, key, run_kind, start, target, model=MODEL)
    days = [ts.to_pydatetime() for ts in stored if ts.to_pydatetime() not in done]
    if as_of is not None and pd.Timestamp(as_of) not in set(stored):
        raise InputError(f"no candle of {key} for {as_of:%Y-%m-%d}: ingest it first, or pick a stored day")
    return days
