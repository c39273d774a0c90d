"""Accuracy of the stored, scored forecasts, as the score views define it (``forecaster.results.scores``).

Nothing here computes a metric of its own: the tables are read from ``forecast_accuracy_rolling``,
or aggregated over ``forecast_scores`` with the views' own expressions where a window is asked that
the views do not have (a backtest's as-of range).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
from sqlalchemy import ColumnElement, RowMapping, or_, select
from sqlalchemy.orm import Session

from forecaster.model.baselines import baseline_names
from forecaster.results.forecasts import MODEL
from forecaster.results.scores import (
    GROUP,
    METRICS,
    ROLLING_WINDOWS,
    accuracy_query,
    forecast_accuracy_rolling,
    forecast_scores,
)
from forecaster.series import SeriesKey

NAIVE = "naive"
SERIES = ["exchange", "symbol", "timeframe"]
ACCURACY_COLUMNS = [name for name in GROUP if name != "run_kind"] + list(METRICS)
SCORE_COLUMNS = [column.name for column in forecast_scores.columns]
FLOAT_METRICS = [name for name in METRICS if name not in ("n", "n_vs_naive", "first_target_date", "last_target_date")]


def accuracy_table(
    session: Session,
    *,
    key: SeriesKey | None = None,
    run_kind: str = "live",
    first_as_of: date | None = None,
    last_as_of: date | None = None,
) -> pd.DataFrame:
    """Accuracy per model, series and horizon of the scored forecasts made on as-of days in
    ``[first_as_of, last_as_of]`` (either end open when None): ``ACCURACY_COLUMNS``, the columns of
    ``forecast_accuracy`` but ``run_kind``, with the same definitions (units: docs/sql.md).

    Sorted by series, model (ours first), horizon; empty when nothing is scored.
    """
    query = accuracy_query(*_conditions(key, run_kind, first_as_of, last_as_of))
    table = pd.DataFrame(session.execute(query).mappings().all(), columns=[*GROUP, *METRICS])
    return _ordered(table[ACCURACY_COLUMNS])


def rolling_accuracy(
    session: Session, keys: Sequence[SeriesKey], *, run_kind: str = "live", windows: Sequence[int] = ROLLING_WINDOWS
) -> pd.DataFrame:
    """``forecast_accuracy_rolling`` for ``keys``: per series, window (``window_days``, ending at the
    series' newest scored target day ``window_end``), model and horizon, the accuracy columns."""
    unknown = sorted(set(windows) - set(ROLLING_WINDOWS))
    if unknown:
        raise ValueError(f"rolling windows are {list(ROLLING_WINDOWS)} days; {unknown} is not one")
    r = forecast_accuracy_rolling.c
    columns = [column.name for column in forecast_accuracy_rolling.columns]
    series = [(r.exchange == k.exchange) & (r.symbol == k.symbol) & (r.timeframe == k.timeframe) for k in keys]
    rows: Sequence[RowMapping] = []
    if series:
        query = select(forecast_accuracy_rolling).where(
            r.run_kind == run_kind, r.window_days.in_(list(windows)), or_(*series)
        )
        rows = session.execute(query).mappings().all()
    table = pd.DataFrame(rows, columns=columns)
    return _ordered(table.drop(columns=["run_kind"]), first=["window_days"])


def scored_forecasts(
    session: Session,
    *,
    key: SeriesKey | None = None,
    run_kind: str = "live",
    first_as_of: date | None = None,
    last_as_of: date | None = None,
    horizon: int | None = None,
) -> pd.DataFrame:
    """The ``forecast_scores`` rows of forecasts made on as-of days in ``[first_as_of, last_as_of]``
    (all series when ``key`` is None, all horizons when ``horizon`` is None)."""
    conditions = _conditions(key, run_kind, first_as_of, last_as_of)
    if horizon is not None:
        conditions.append(forecast_scores.c.horizon == horizon)
    query = select(forecast_scores).where(*conditions).order_by(forecast_scores.c.as_of_date)
    return pd.DataFrame(session.execute(query).mappings().all(), columns=SCORE_COLUMNS)


def _conditions(
    key: SeriesKey | None, run_kind: str, first_as_of: date | None, last_as_of: date | None
) -> list[ColumnElement[bool]]:
    s = forecast_scores.c
    conditions = [s.run_kind == run_kind]
    if key is not None:
        conditions += [s.exchange == key.exchange, s.symbol == key.symbol, s.timeframe == key.timeframe]
    if first_as_of is not None:
        conditions.append(s.as_of_date >= first_as_of)
    if last_as_of is not None:
        conditions.append(s.as_of_date <= last_as_of)
    return conditions


def _ordered(table: pd.DataFrame, first: Sequence[str] = ()) -> pd.DataFrame:
    """Rows by series, (window,) model (ours first, then the baselines), horizon."""
    if table.empty:
        return table.reset_index(drop=True)
    table = table.astype({"horizon": int, "n": int, "n_vs_naive": int} | dict.fromkeys(FLOAT_METRICS, float))
    rank = table["model"].map(model_rank)
    order = [*SERIES, *first, "_rank", "model", "horizon"]
    return table.assign(_rank=rank).sort_values(order).drop(columns="_rank").reset_index(drop=True)


def model_rank(model: str) -> int:
    order = [MODEL, *baseline_names()]
    return order.index(model) if model in order else len(order)
