"""Writing forecast sets: one row per model and horizon, all of one (symbol, as_of) in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from forecaster.dates import as_utc
from forecaster.db.models import Forecast
from forecaster.db.upsert import insert_missing
from forecaster.results.gate import Gate
from forecaster.series import SeriesKey, of_series

MODEL = "bilstm_gru"
KEY = ("model", "exchange", "symbol", "timeframe", "as_of", "horizon", "run_kind")


def forecast_rows(
    frame: pd.DataFrame,
    *,
    model: str,
    key: SeriesKey,
    as_of: datetime,
    run_id: int | None,
    run_kind: str,
    interval_level: float,
    model_version_id: int | None = None,
    gates: dict[int, Gate] | None = None,
) -> list[dict[str, object]]:
    """Rows for ``forecasts`` from a frame of horizon, target_ts, yhat, yhat_lower, yhat_upper, whose
    intervals have the nominal level ``interval_level`` (0.8: 80 %)."""
    now = datetime.now(UTC)
    rows: list[dict[str, object]] = []
    for record in frame.to_dict("records"):
        horizon = int(record["horizon"])
        gate = (gates or {}).get(horizon)
        target_ts = as_utc(record["target_ts"])
        rows.append(
            {
                "run_id": run_id,
                "run_kind": run_kind,
                "model": model,
                "model_version_id": model_version_id,
                "exchange": key.exchange,
                "symbol": key.symbol,
                "timeframe": key.timeframe,
                "as_of": as_of,
                "target_ts": target_ts,
                "as_of_date": as_utc(as_of).date(),
                "target_date": target_ts.date(),
                "horizon": horizon,
                "yhat": float(record["yhat"]),
                "yhat_lower": _float(record.get("yhat_lower")),
                "yhat_upper": _float(record.get("yhat_upper")),
                "interval_level": float(interval_level),
                "beats_naive": gate.beats_naive if gate else None,
                "gate_mae_ratio": gate.mae_ratio if gate else None,
                "gate_pvalue": gate.pvalue if gate else None,
                "gate_n": gate.n if gate else None,
                "created_at": now,
            }
        )
    return rows


def write_forecasts(session: Session, rows: list[dict[str, object]]) -> None:
    """Insert forecasts; a forecast already written for the same key is kept as it is."""
    insert_missing(session, Forecast.__table__, rows, KEY)  # type: ignore[arg-type]


def models_with_forecasts(session: Session, key: SeriesKey, as_of: datetime, run_kind: str) -> set[str]:
    """Which models already have a forecast set for this series and as-of day."""
    query = (
        select(Forecast.model)
        .distinct()
        .where(
            of_series(Forecast, key),
            Forecast.as_of == as_of,
            Forecast.run_kind == run_kind,
        )
    )
    return set(session.scalars(query))


def _float(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def forecast_days(
    session: Session, key: SeriesKey, run_kind: str, start: datetime, end: datetime, *, model: str | None = None
) -> set[datetime]:
    """The as-of days in ``[start, end]`` that already have forecasts of this series and run kind (of
    ``model`` only, when given)."""
    query = (
        select(Forecast.as_of)
        .distinct()
        .where(
            of_series(Forecast, key),
            Forecast.run_kind == run_kind,
            Forecast.as_of >= start,
            Forecast.as_of <= end,
        )
    )
    if model is not None:
        query = query.where(Forecast.model == model)
    return {as_utc(day) for day in session.scalars(query)}


def complete_days(
    session: Session, key: SeriesKey, run_kind: str, start: datetime, end: datetime, models: list[str]
) -> set[datetime]:
    """The as-of days in ``[start, end]`` whose forecast set is complete: every one of ``models`` is there."""
    query = (
        select(Forecast.as_of)
        .where(
            of_series(Forecast, key),
            Forecast.run_kind == run_kind,
            Forecast.as_of >= start,
            Forecast.as_of <= end,
            Forecast.model.in_(models),
        )
        .group_by(Forecast.as_of)
        .having(func.count(distinct(Forecast.model)) == len(models))
    )
    return {as_utc(day) for day in session.scalars(query)}
