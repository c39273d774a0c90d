"""The score views with the pinball loss: forecast_scores, forecast_accuracy, forecast_accuracy_rolling

- ``forecast_scores`` gains ``pinball_loss`` (the mean of the pinball losses of the interval's bounds
  as the quantiles alpha/2 and 1 - alpha/2, alpha = 1 - interval_level; quote currency) and
  ``naive_pinball_loss`` (naive's, on the same series, as-of day, horizon and run kind), after the
  interval scores.
- ``forecast_accuracy`` and ``forecast_accuracy_rolling`` gain ``mean_pinball_loss`` and
  ``pinball_loss_vs_naive`` (defined as ``interval_score_vs_naive``), after the other columns.

The views are dropped and created again (no table changes); the downgrade creates revision 0003's
views. ``forecaster/results/scores.py`` mirrors these definitions column for column.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The first day after a rolling window: window_end minus window_days.
WINDOW_START = {
    "sqlite": "date(w.window_end, '-' || w.window_days || ' days')",
    "postgresql": "w.window_end - w.window_days",
}
DROP_VIEWS = (
    "DROP VIEW IF EXISTS forecast_accuracy_rolling",
    "DROP VIEW IF EXISTS forecast_accuracy",
    "DROP VIEW IF EXISTS forecast_scores",
)


def _no_interval(f: str, e: str) -> str:
    return f"{f}.yhat_lower IS NULL OR {f}.yhat_upper IS NULL OR {e}.actual IS NULL"


def _interval_score(f: str, e: str) -> str:
    """The Winkler interval score of a forecast at its stored level (NULL without an interval or a score):
    width + 2/alpha * (how far the actual fell below the lower bound or above the upper one), alpha = 1 - level."""
    return f"""CASE WHEN {_no_interval(f, e)} THEN NULL
            ELSE ({f}.yhat_upper - {f}.yhat_lower) + 2.0 / (1.0 - {f}.interval_level) * (
                CASE WHEN {e}.actual < {f}.yhat_lower THEN {f}.yhat_lower - {e}.actual ELSE 0.0 END
                + CASE WHEN {e}.actual > {f}.yhat_upper THEN {e}.actual - {f}.yhat_upper ELSE 0.0 END)
       END"""


def _pinball_loss(f: str, e: str) -> str:
    """The mean of the pinball losses of the lower bound as quantile q = alpha/2 and of the upper bound as
    quantile 1 - alpha/2 (alpha = 1 - level). The loss of a bound b as quantile q is q * (actual - b) when
    the actual is at or above b, (1 - q) * (b - actual) below it; here 1 - alpha/2 = (1 + level) / 2.
    NULL without an interval or a score."""
    low, high = f"(1.0 - {f}.interval_level) / 2.0", f"(1.0 + {f}.interval_level) / 2.0"
    lower, upper, actual = f"{f}.yhat_lower", f"{f}.yhat_upper", f"{e}.actual"
    return f"""CASE WHEN {_no_interval(f, e)} THEN NULL
            ELSE 0.5 * (
                CASE WHEN {actual} >= {lower} THEN {low} * ({actual} - {lower})
                     ELSE {high} * ({lower} - {actual}) END
                + CASE WHEN {actual} >= {upper} THEN {high} * ({actual} - {upper})
                       ELSE {low} * ({upper} - {actual}) END)
       END"""


def _forecast_scores(pinball: bool) -> str:
    losses = (
        f"""
       {_pinball_loss("f", "e")} AS pinball_loss,
       {_pinball_loss("nf", "ne")} AS naive_pinball_loss,"""
        if pinball
        else ""
    )
    return f"""
CREATE VIEW forecast_scores AS
SELECT f.id AS forecast_id, f.exchange, f.symbol, f.timeframe, f.model, f.run_kind, f.horizon,
       f.as_of_date, f.target_date, e.actual, f.yhat, f.yhat_lower, f.yhat_upper, f.interval_level,
       e.abs_error, e.error * e.error AS squared_error, ne.abs_error AS naive_abs_error,
       {_interval_score("f", "e")} AS interval_score,
       {_interval_score("nf", "ne")} AS naive_interval_score,{losses}
       e.inside_interval, e.direction_hit
FROM forecasts f
JOIN forecast_errors e ON e.forecast_id = f.id
LEFT JOIN forecasts nf
       ON nf.model = 'naive' AND nf.exchange = f.exchange AND nf.symbol = f.symbol
      AND nf.timeframe = f.timeframe AND nf.as_of = f.as_of AND nf.horizon = f.horizon
      AND nf.run_kind = f.run_kind
LEFT JOIN forecast_errors ne ON ne.forecast_id = nf.id
"""


# One definition of every accuracy figure, over rows of forecast_scores (alias s). Mirrored, and held
# equal by a test, in forecaster/results/scores.py (the Python reports' windowed queries).
ACCURACY_0003 = """
       COUNT(*) AS n,
       COUNT(s.naive_abs_error) AS n_vs_naive,
       MIN(s.target_date) AS first_target_date,
       MAX(s.target_date) AS last_target_date,
       AVG(s.abs_error) AS mae,
       SQRT(AVG(s.squared_error)) AS rmse,
       100.0 * AVG(s.abs_error / NULLIF(ABS(s.actual), 0)) AS mape_pct,
       SUM(CASE WHEN s.naive_abs_error IS NOT NULL THEN s.abs_error END)
           / NULLIF(SUM(s.naive_abs_error), 0) AS mae_vs_naive,
       CAST(AVG(CASE WHEN s.direction_hit THEN 1 WHEN NOT s.direction_hit THEN 0 END)
           AS DOUBLE PRECISION) AS direction_accuracy,
       CAST(AVG(CASE WHEN s.inside_interval THEN 1 WHEN NOT s.inside_interval THEN 0 END)
           AS DOUBLE PRECISION) AS coverage,
       AVG(s.interval_level) AS interval_level,
       AVG(s.interval_score) AS mean_interval_score,
       SUM(CASE WHEN s.naive_interval_score IS NOT NULL THEN s.interval_score END)
           / NULLIF(SUM(CASE WHEN s.interval_score IS NOT NULL THEN s.naive_interval_score END), 0)
           AS interval_score_vs_naive"""
ACCURACY_PINBALL = """,
       AVG(s.pinball_loss) AS mean_pinball_loss,
       SUM(CASE WHEN s.naive_pinball_loss IS NOT NULL THEN s.pinball_loss END)
           / NULLIF(SUM(CASE WHEN s.pinball_loss IS NOT NULL THEN s.naive_pinball_loss END), 0)
           AS pinball_loss_vs_naive"""


def _accuracy(pinball: bool) -> str:
    return ACCURACY_0003 + (ACCURACY_PINBALL if pinball else "")


def _forecast_accuracy(pinball: bool) -> str:
    return f"""
CREATE VIEW forecast_accuracy AS
SELECT s.run_kind, s.model, s.exchange, s.symbol, s.timeframe, s.horizon,{_accuracy(pinball)}
FROM forecast_scores s
GROUP BY s.run_kind, s.model, s.exchange, s.symbol, s.timeframe, s.horizon
"""


def _forecast_accuracy_rolling(dialect: str, pinball: bool) -> str:
    """The windows end at the newest scored target day of each series and run kind: for a live series
    run daily, yesterday's or today's candle; for a backtest, its last scored target."""
    accuracy = _accuracy(pinball)
    return f"""
CREATE VIEW forecast_accuracy_rolling AS
SELECT s.run_kind, s.model, s.exchange, s.symbol, s.timeframe, s.horizon, w.window_days, w.window_end,{accuracy}
FROM forecast_scores s
JOIN (
    SELECT f.run_kind, f.exchange, f.symbol, f.timeframe, d.window_days, MAX(f.target_date) AS window_end
    FROM forecasts f
    JOIN forecast_errors e ON e.forecast_id = f.id
    CROSS JOIN (SELECT 30 AS window_days UNION ALL SELECT 90 AS window_days) d
    GROUP BY f.run_kind, f.exchange, f.symbol, f.timeframe, d.window_days
) w ON w.run_kind = s.run_kind AND w.exchange = s.exchange AND w.symbol = s.symbol
   AND w.timeframe = s.timeframe AND s.target_date > {WINDOW_START[dialect]} AND s.target_date <= w.window_end
GROUP BY s.run_kind, s.model, s.exchange, s.symbol, s.timeframe, s.horizon, w.window_days, w.window_end
"""


def _create_views(pinball: bool) -> None:
    dialect = op.get_bind().dialect.name
    for statement in DROP_VIEWS:
        op.execute(statement)
    op.execute(_forecast_scores(pinball))
    op.execute(_forecast_accuracy(pinball))
    op.execute(_forecast_accuracy_rolling(dialect, pinball))


def upgrade() -> None:
    _create_views(pinball=True)


def downgrade() -> None:
    """Back to revision 0004: the views as migration 0003 created them."""
    _create_views(pinball=False)
