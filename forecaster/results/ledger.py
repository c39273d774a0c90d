"""A model's track record: its scored forecasts of one series, the set that calibrates its intervals."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecaster.db.models import Forecast, ForecastEvaluation
from forecaster.series import SeriesKey, of_series

RECORD_COLUMNS = ("as_of", "target_ts", "horizon", "yhat", "yhat_lower", "yhat_upper", "actual")


def track_record(
    session: Session, key: SeriesKey, run_kind: str, model: str, as_of: datetime, days: int
) -> pd.DataFrame:
    """The scored forecasts of ``model`` whose target day is at most ``as_of`` and at most ``days`` days
    before it, oldest target first (``RECORD_COLUMNS``; ``as_of`` and ``target_ts`` as aware UTC).

    Only targets up to ``as_of``: a backtest re-run over days whose later targets are scored already must
    not calibrate on them.
    """
    query = (
        select(*(Forecast.__table__.c[name] for name in RECORD_COLUMNS[:-1]), ForecastEvaluation.actual)
        .join(ForecastEvaluation, ForecastEvaluation.forecast_id == Forecast.id)
        .where(
            of_series(Forecast, key),
            Forecast.run_kind == run_kind,
            Forecast.model == model,
            Forecast.target_ts <= as_of,
            Forecast.target_ts > as_of - timedelta(days=days),
        )
        .order_by(Forecast.target_ts, Forecast.horizon)
    )
    frame = pd.DataFrame(session.execute(query).all(), columns=list(RECORD_COLUMNS))
    for name in ("as_of", "target_ts"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame.astype({"yhat_lower": float, "yhat_upper": float, "yhat": float, "actual": float})
