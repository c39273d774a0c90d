"""The score views, and the one definition of every accuracy figure.

Migrations 0003 and 0005 create the views: ``forecast_scores`` (one row per scored forecast, beside naive's
forecast of the same series, as-of day, horizon and run kind), ``forecast_accuracy`` (its aggregates
over all time) and ``forecast_accuracy_rolling`` (over the last 30 and 90 days of targets). The
Python side reads them; where it needs a window the views do not have (a backtest's as-of range), it
aggregates ``forecast_scores`` with ``accuracy_query``, whose expressions mirror the views' SQL
column for column (``tests/db/test_scores.py`` holds them equal on SQLite and PostgreSQL).

Units (see docs/sql.md): errors, interval scores and pinball losses in the quote currency (USDT for
BTC/USDT), squared errors in its square; every ratio is a fraction (0.75, not 75) except ``mape_pct``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnClause,
    ColumnElement,
    Date,
    Float,
    Integer,
    Select,
    String,
    TableClause,
    case,
    cast,
    column,
    func,
    literal_column,
    not_,
    select,
    table,
)

#: Rolling windows of ``forecast_accuracy_rolling``, in days.
ROLLING_WINDOWS = (30, 90)
#: What accuracy is grouped by.
GROUP = ("run_kind", "model", "exchange", "symbol", "timeframe", "horizon")
#: The accuracy figures, in the views' column order.
METRICS = (
    "n",
    "n_vs_naive",
    "first_target_date",
    "last_target_date",
    "mae",
    "rmse",
    "mape_pct",
    "mae_vs_naive",
    "direction_accuracy",
    "coverage",
    "interval_level",
    "mean_interval_score",
    "interval_score_vs_naive",
    "mean_pinball_loss",
    "pinball_loss_vs_naive",
)

forecast_scores = table(
    "forecast_scores",
    column("forecast_id", BigInteger),
    column("exchange", String),
    column("symbol", String),
    column("timeframe", String),
    column("model", String),
    column("run_kind", String),
    column("horizon", Integer),
    column("as_of_date", Date),
    column("target_date", Date),
    column("actual", Float),
    column("yhat", Float),
    column("yhat_lower", Float),
    column("yhat_upper", Float),
    column("interval_level", Float),
    column("abs_error", Float),
    column("squared_error", Float),
    column("naive_abs_error", Float),
    column("interval_score", Float),
    column("naive_interval_score", Float),
    column("pinball_loss", Float),
    column("naive_pinball_loss", Float),
    column("inside_interval", Boolean),
    column("direction_hit", Boolean),
)


def _accuracy_columns() -> list[ColumnClause[Any]]:
    return [
        column("n", Integer),
        column("n_vs_naive", Integer),
        column("first_target_date", Date),
        column("last_target_date", Date),
        *(column(name, Float) for name in METRICS[4:]),
    ]


def _group_columns() -> list[ColumnClause[Any]]:
    return [column(name, Integer if name == "horizon" else String) for name in GROUP]


forecast_accuracy = table("forecast_accuracy", *_group_columns(), *_accuracy_columns())
forecast_accuracy_rolling = table(
    "forecast_accuracy_rolling",
    *_group_columns(),
    column("window_days", Integer),
    column("window_end", Date),
    *_accuracy_columns(),
)


def _share(flag: ColumnElement[bool]) -> ColumnElement[float]:
    """Share of true among the non-null flags (NULL when every flag is null)."""
    return cast(func.avg(case((flag, 1), (not_(flag), 0))), Float)


def _nonzero(value: ColumnElement[float]) -> ColumnElement[float]:
    """``NULLIF(value, 0)``, typed as a float: a plain division, as in the views (SQLAlchemy would cast an
    untyped divisor to NUMERIC, and PostgreSQL's numeric division rounds)."""
    return func.nullif(value, literal_column("0"), type_=Float)


def _paired_sum(value: ColumnElement[float], partner: ColumnElement[float]) -> ColumnElement[float]:
    """Sum of ``value`` over the rows where ``partner`` is known."""
    return func.sum(case((partner.is_not(None), value)))


def accuracy_metrics(s: TableClause = forecast_scores) -> list[ColumnElement[Any]]:
    """The aggregates of ``METRICS`` over rows of ``forecast_scores``: the views' definitions.

    ``mae_vs_naive`` = the model's summed absolute errors over naive's, on the forecasts that have a
    scored naive twin (below 1: better than naive); ``interval_score_vs_naive`` and
    ``pinball_loss_vs_naive`` likewise for the Winkler interval score and the pinball loss.
    ``direction_accuracy`` and ``coverage`` leave out forecasts without a called direction or an
    interval (NULL when none has one).
    """
    c = s.c
    return [
        func.count().label("n"),
        func.count(c.naive_abs_error).label("n_vs_naive"),
        func.min(c.target_date).label("first_target_date"),
        func.max(c.target_date).label("last_target_date"),
        func.avg(c.abs_error).label("mae"),
        func.sqrt(func.avg(c.squared_error)).label("rmse"),
        (literal_column("100.0") * func.avg(c.abs_error / _nonzero(func.abs(c.actual)))).label("mape_pct"),
        (_paired_sum(c.abs_error, c.naive_abs_error) / _nonzero(func.sum(c.naive_abs_error))).label("mae_vs_naive"),
        _share(c.direction_hit).label("direction_accuracy"),
        _share(c.inside_interval).label("coverage"),
        func.avg(c.interval_level).label("interval_level"),
        func.avg(c.interval_score).label("mean_interval_score"),
        (
            _paired_sum(c.interval_score, c.naive_interval_score)
            / _nonzero(_paired_sum(c.naive_interval_score, c.interval_score))
        ).label("interval_score_vs_naive"),
        func.avg(c.pinball_loss).label("mean_pinball_loss"),
        (
            _paired_sum(c.pinball_loss, c.naive_pinball_loss)
            / _nonzero(_paired_sum(c.naive_pinball_loss, c.pinball_loss))
        ).label("pinball_loss_vs_naive"),
    ]


def accuracy_query(*conditions: ColumnElement[bool]) -> Select[Any]:
    """Accuracy per ``GROUP`` of the ``forecast_scores`` rows matching ``conditions``: what
    ``forecast_accuracy`` holds when no condition is given."""
    keys = [forecast_scores.c[name] for name in GROUP]
    return select(*keys, *accuracy_metrics()).where(*conditions).group_by(*keys)
