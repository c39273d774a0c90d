"""Accuracy of the stored, scored forecasts: per model, series and horizon, and against naive."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecaster.db.models import Forecast, ForecastEvaluation
from forecaster.model import metrics
from forecaster.model.baselines import baseline_names
from forecaster.results.forecasts import MODEL
from forecaster.series import SeriesKey, of_series

NAIVE = "naive"
GROUP = ["model", "exchange", "symbol", "timeframe", "horizon"]
PAIR = ["exchange", "symbol", "timeframe", "as_of", "horizon"]
ACCURACY_COLUMNS = [*GROUP, "n", "mae", "rmse", "mape", "mae_vs_naive", "direction_accuracy", "coverage"]
_SCORED = [
    "model",
    "exchange",
    "symbol",
    "timeframe",
    "horizon",
    "as_of",
    "target_ts",
    "yhat",
    "actual",
    "abs_error",
    "direction_hit",
    "inside_interval",
]


def accuracy_table(
    session: Session,
    *,
    key: SeriesKey | None = None,
    run_kind: str = "live",
    since: datetime | None = None,
    until: datetime | None = None,
) -> pd.DataFrame:
    """Accuracy per model, series and horizon of the scored forecasts with ``since < target_ts <= until``.

    Columns: model, exchange, symbol, timeframe, horizon, n, mae, rmse, mape (percent),
    mae_vs_naive (the model's MAE over naive's, both on the (as_of, horizon) pairs they share;
    NaN without pairs), direction_accuracy and coverage (shares, forecasts without a call or an
    interval left out; NaN when none has one). Sorted by series, model (ours first), horizon.
    """
    scored = scored_forecasts(session, key=key, run_kind=run_kind, since=since, until=until)
    if scored.empty:
        return pd.DataFrame(columns=ACCURACY_COLUMNS)
    rows = [_accuracy_row(group) for _, group in scored.groupby(GROUP, sort=False)]
    table = pd.DataFrame(rows, columns=[*GROUP, "n", "mae", "rmse", "mape", "direction_accuracy", "coverage"])
    table["mae_vs_naive"] = _mae_vs_naive(scored, table)
    table["horizon"] = table["horizon"].astype(int)
    table["n"] = table["n"].astype(int)
    table["_order"] = table["model"].map(model_rank)
    table = table.sort_values(["exchange", "symbol", "timeframe", "_order", "model", "horizon"])
    return table[ACCURACY_COLUMNS].reset_index(drop=True)


def scored_forecasts(
    session: Session,
    *,
    key: SeriesKey | None = None,
    run_kind: str = "live",
    since: datetime | None = None,
    until: datetime | None = None,
    horizon: int | None = None,
) -> pd.DataFrame:
    """Every scored forecast with ``since < target_ts <= until`` (all series when ``key`` is None, all
    horizons when ``horizon`` is None), one row each: model, series, horizon, as_of, target_ts, yhat, and
    its score (actual, abs_error, direction_hit, inside_interval)."""
    query = (
        select(
            Forecast.model,
            Forecast.exchange,
            Forecast.symbol,
            Forecast.timeframe,
            Forecast.horizon,
            Forecast.as_of,
            Forecast.target_ts,
            Forecast.yhat,
            ForecastEvaluation.actual,
            ForecastEvaluation.abs_error,
            ForecastEvaluation.direction_hit,
            ForecastEvaluation.inside_interval,
        )
        .join(ForecastEvaluation, ForecastEvaluation.forecast_id == Forecast.id)
        .where(Forecast.run_kind == run_kind)
    )
    if key is not None:
        query = query.where(of_series(Forecast, key))
    if since is not None:
        query = query.where(Forecast.target_ts > since)
    if until is not None:
        query = query.where(Forecast.target_ts <= until)
    if horizon is not None:
        query = query.where(Forecast.horizon == horizon)
    return pd.DataFrame(session.execute(query).all(), columns=_SCORED)


def _accuracy_row(group: pd.DataFrame) -> list[object]:
    first = group.iloc[0]
    return [
        *(first[column] for column in GROUP),
        len(group),
        metrics.mae(group["actual"], group["yhat"]),
        metrics.rmse(group["actual"], group["yhat"]),
        metrics.mape(group["actual"], group["yhat"]),
        _share(group["direction_hit"]),
        _share(group["inside_interval"]),
    ]


def _share(flags: pd.Series) -> float:
    """Share of true values among the non-null ones (NaN when all are null)."""
    known = flags.dropna()
    return float(known.astype(bool).mean()) if len(known) else float("nan")


def _mae_vs_naive(scored: pd.DataFrame, table: pd.DataFrame) -> pd.Series:
    """Per table row: mean |error| over naive's on the same (series, as_of, horizon) forecasts."""
    naive = scored.loc[scored["model"] == NAIVE, [*PAIR, "abs_error"]]
    paired = scored.merge(naive, on=PAIR, suffixes=("", "_naive"))
    sums = paired.groupby(GROUP, sort=False)[["abs_error", "abs_error_naive"]].sum()
    ratio = (sums["abs_error"] / sums["abs_error_naive"].where(sums["abs_error_naive"] > 0)).rename("mae_vs_naive")
    return table[GROUP].merge(ratio.reset_index(), on=GROUP, how="left")["mae_vs_naive"].astype(float)


def model_rank(model: str) -> int:
    order = [MODEL, *baseline_names()]
    return order.index(model) if model in order else len(order)


def newest_scored(session: Session, key: SeriesKey, run_kind: str = "live") -> datetime | None:
    """Target time of the newest scored forecast of ``key``: where a summary's windows end (None: none)."""
    return session.scalars(
        select(Forecast.target_ts)
        .join(ForecastEvaluation, ForecastEvaluation.forecast_id == Forecast.id)
        .where(
            of_series(Forecast, key),
            Forecast.run_kind == run_kind,
        )
        .order_by(Forecast.target_ts.desc())
        .limit(1)
    ).first()
