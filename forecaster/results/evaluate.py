"""Scoring forecasts whose target candle has arrived."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from forecaster.db.models import Candle, Forecast, ForecastEvaluation
from forecaster.db.upsert import insert_missing
from forecaster.series import SeriesKey, of_series


def score(frame: pd.DataFrame) -> pd.DataFrame:
    """Errors of forecasts (yhat, yhat_lower, yhat_upper, actual, last_close) -> forecast_errors columns.

    ``direction_hit`` is null when the forecast calls no direction (yhat equals the last close, as
    naive does) or the price did not move; ``inside_interval`` is null without an interval.
    """
    error = frame["actual"] - frame["yhat"]
    predicted = np.sign(frame["yhat"] - frame["last_close"])
    happened = np.sign(frame["actual"] - frame["last_close"])
    called = (predicted != 0) & (happened != 0) & frame["last_close"].notna()
    has_interval = frame["yhat_lower"].notna() & frame["yhat_upper"].notna()
    inside = (frame["yhat_lower"] <= frame["actual"]) & (frame["actual"] <= frame["yhat_upper"])
    return pd.DataFrame(
        {
            "forecast_id": frame["forecast_id"],
            "actual": frame["actual"],
            "error": error,
            "abs_error": error.abs(),
            "ape": error.abs() / frame["actual"].abs(),
            "direction_hit": (predicted == happened).where(called, None).astype(object),
            "inside_interval": inside.where(has_interval, None).astype(object),
        }
    )


def evaluate_matured(session: Session, key: SeriesKey | None = None) -> int:
    """Score every forecast whose target candle is stored and that has no score yet; returns the count."""
    target = aliased(Candle)
    anchor = aliased(Candle)
    query = (
        select(
            Forecast.id.label("forecast_id"),
            Forecast.yhat,
            Forecast.yhat_lower,
            Forecast.yhat_upper,
            target.close.label("actual"),
            anchor.close.label("last_close"),
        )
        .join(
            target,
            (target.exchange == Forecast.exchange)
            & (target.symbol == Forecast.symbol)
            & (target.timeframe == Forecast.timeframe)
            & (target.ts == Forecast.target_ts),
        )
        .outerjoin(
            anchor,
            (anchor.exchange == Forecast.exchange)
            & (anchor.symbol == Forecast.symbol)
            & (anchor.timeframe == Forecast.timeframe)
            & (anchor.ts == Forecast.as_of),
        )
        .outerjoin(ForecastEvaluation, ForecastEvaluation.forecast_id == Forecast.id)
        .where(ForecastEvaluation.forecast_id.is_(None))
    )
    if key is not None:
        query = query.where(of_series(Forecast, key))
    rows = session.execute(query).all()
    if not rows:
        return 0
    frame = pd.DataFrame(rows, columns=["forecast_id", "yhat", "yhat_lower", "yhat_upper", "actual", "last_close"])
    scores = score(frame.astype({"yhat_lower": float, "yhat_upper": float, "last_close": float}))
    now = datetime.now(UTC)
    records = [{**record, "evaluated_at": now} for record in scores.to_dict("records")]
    insert_missing(session, ForecastEvaluation.__table__, records, ["forecast_id"])  # type: ignore[arg-type]
    return len(records)
