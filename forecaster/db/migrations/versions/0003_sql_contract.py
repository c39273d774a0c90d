"""The SQL contract, version 2: forecast days and interval level, jsonb, run lineage, the score views

- ``forecasts``: ``as_of_date`` and ``target_date`` (DATE, the UTC day of the candle) and
  ``interval_level`` (every row, baselines included), filled for the rows already there.
- ``runs.kind`` becomes ``runs.trigger`` (daily -> scheduled; manual and backtest stay); ``runs.as_of``
  is filled from the run's forecasts where it was NULL.
- ``ingest_runs.run_id``: the run that made the ingest (NULL for older rows and CLI ingests).
- PostgreSQL: every JSON column becomes ``jsonb``.
- Views: ``forecast_scores`` (one row per scored forecast, next to naive's), ``forecast_accuracy``
  (all time) and ``forecast_accuracy_rolling`` (last 30 and 90 days) built on it;
  ``latest_forecasts`` gains the new columns. ``mape`` becomes ``mape_pct``.

On SQLite, tables are rebuilt with foreign keys off (``forecaster.db.migrate`` turns them off
around every migration); the rebuilt schema is checked with ``PRAGMA foreign_key_check``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSON, JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DEFAULT_INTERVAL_LEVEL = 0.8  # ModelConfig.interval_level's default: what every job used unless configured
JSON_COLUMNS = (
    ("ingest_runs", "gaps"),
    ("ingest_runs", "rejected"),
    ("runs", "parameters"),
    ("runs", "manifest"),
    ("model_versions", "hyperparameters"),
    ("model_versions", "manifest"),
)
# The UTC days of the candles: SQLite stores the UTC wall time as text, PostgreSQL a timestamptz.
FILL_DAYS = {
    "sqlite": "UPDATE forecasts SET as_of_date = date(as_of), target_date = date(target_ts)",
    "postgresql": "UPDATE forecasts SET as_of_date = CAST((as_of AT TIME ZONE 'UTC') AS DATE), "
    "target_date = CAST((target_ts AT TIME ZONE 'UTC') AS DATE)",
}
# The first day after a rolling window: window_end minus window_days.
WINDOW_START = {
    "sqlite": "date(w.window_end, '-' || w.window_days || ' days')",
    "postgresql": "w.window_end - w.window_days",
}

LATEST_FORECASTS = """
CREATE VIEW latest_forecasts AS
SELECT id, run_id, model, model_version_id, exchange, symbol, timeframe, as_of, target_ts, as_of_date,
       target_date, horizon, yhat, yhat_lower, yhat_upper, interval_level, beats_naive, gate_mae_ratio,
       gate_pvalue, gate_n, created_at
FROM (
    SELECT f.*, ROW_NUMBER() OVER (
        PARTITION BY model, exchange, symbol, timeframe, horizon ORDER BY as_of DESC, id DESC
    ) AS newest
    FROM forecasts f
    WHERE run_kind = 'live'
) ranked
WHERE newest = 1
"""


def _interval_score(forecast: str, score: str) -> str:
    """The Winkler interval score of a forecast at its stored level (NULL without an interval or a score):
    width + 2/alpha * (how far the actual fell below the lower bound or above the upper one), alpha = 1 - level."""
    f, e = forecast, score
    return f"""CASE WHEN {f}.yhat_lower IS NULL OR {f}.yhat_upper IS NULL OR {e}.actual IS NULL THEN NULL
            ELSE ({f}.yhat_upper - {f}.yhat_lower) + 2.0 / (1.0 - {f}.interval_level) * (
                CASE WHEN {e}.actual < {f}.yhat_lower THEN {f}.yhat_lower - {e}.actual ELSE 0.0 END
                + CASE WHEN {e}.actual > {f}.yhat_upper THEN {e}.actual - {f}.yhat_upper ELSE 0.0 END)
       END"""


FORECAST_SCORES = f"""
CREATE VIEW forecast_scores AS
SELECT f.id AS forecast_id, f.exchange, f.symbol, f.timeframe, f.model, f.run_kind, f.horizon,
       f.as_of_date, f.target_date, e.actual, f.yhat, f.yhat_lower, f.yhat_upper, f.interval_level,
       e.abs_error, e.error * e.error AS squared_error, ne.abs_error AS naive_abs_error,
       {_interval_score("f", "e")} AS interval_score,
       {_interval_score("nf", "ne")} AS naive_interval_score,
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
ACCURACY = """
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

FORECAST_ACCURACY = f"""
CREATE VIEW forecast_accuracy AS
SELECT s.run_kind, s.model, s.exchange, s.symbol, s.timeframe, s.horizon,{ACCURACY}
FROM forecast_scores s
GROUP BY s.run_kind, s.model, s.exchange, s.symbol, s.timeframe, s.horizon
"""

# The windows end at the newest scored target day of each series and run kind: for a live series
# run daily, yesterday's or today's candle; for a backtest, its last scored target.
_ROLLING = """
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
   AND w.timeframe = s.timeframe AND s.target_date > {window_start} AND s.target_date <= w.window_end
GROUP BY s.run_kind, s.model, s.exchange, s.symbol, s.timeframe, s.horizon, w.window_days, w.window_end
"""

FORECAST_ACCURACY_ROLLING = {
    dialect: _ROLLING.format(accuracy=ACCURACY, window_start=start) for dialect, start in WINDOW_START.items()
}
DROP_NEW_VIEWS = (
    "DROP VIEW IF EXISTS forecast_accuracy_rolling",
    "DROP VIEW IF EXISTS forecast_accuracy",
    "DROP VIEW IF EXISTS forecast_scores",
    "DROP VIEW IF EXISTS latest_forecasts",
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in DROP_NEW_VIEWS:
        op.execute(statement)
    _forecast_days_and_levels(dialect)
    _run_lineage()
    if dialect == "postgresql":
        _json_columns(JSONB(), "jsonb")
    op.execute(LATEST_FORECASTS)
    op.execute(FORECAST_SCORES)
    op.execute(FORECAST_ACCURACY)
    op.execute(FORECAST_ACCURACY_ROLLING[dialect])
    _check_foreign_keys(dialect)


def _forecast_days_and_levels(dialect: str) -> None:
    with op.batch_alter_table("forecasts") as batch:
        batch.add_column(sa.Column("as_of_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("target_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("interval_level", sa.Float(), nullable=True))
    op.execute(FILL_DAYS[dialect])
    _fill_interval_levels()
    with op.batch_alter_table("forecasts") as batch:
        batch.alter_column("as_of_date", existing_type=sa.Date(), nullable=False)
        batch.alter_column("target_date", existing_type=sa.Date(), nullable=False)
        batch.alter_column("interval_level", existing_type=sa.Float(), nullable=False)
        batch.create_index("ix_forecasts_target_date", ["exchange", "symbol", "timeframe", "target_date"])


def _fill_interval_levels() -> None:
    """The level each forecast was made at: the model's from its version's hyperparameters, a
    baseline's from its run's job configuration, else the default every job used (0.8)."""
    bind = op.get_bind()
    forecasts = sa.table(
        "forecasts",
        sa.column("run_id", ID),
        sa.column("model_version_id", ID),
        sa.column("interval_level", sa.Float()),
    )
    versions = sa.table("model_versions", sa.column("id", ID), sa.column("hyperparameters", sa.JSON()))
    runs = sa.table("runs", sa.column("id", ID), sa.column("parameters", sa.JSON()))
    for version_id, hyperparameters in bind.execute(sa.select(versions.c.id, versions.c.hyperparameters)):
        level = _level(hyperparameters, "model")
        bind.execute(
            forecasts.update()
            .where(forecasts.c.model_version_id == version_id)
            .values(interval_level=level if level is not None else DEFAULT_INTERVAL_LEVEL)
        )
    for run_id, parameters in bind.execute(sa.select(runs.c.id, runs.c.parameters)):
        level = _level(parameters, "job", "model")
        if level is not None:
            bind.execute(
                forecasts.update()
                .where(forecasts.c.run_id == run_id, forecasts.c.interval_level.is_(None))
                .values(interval_level=level)
            )
    bind.execute(
        forecasts.update().where(forecasts.c.interval_level.is_(None)).values(interval_level=DEFAULT_INTERVAL_LEVEL)
    )


def _level(document: Any, *path: str) -> float | None:
    """``document[path...]["interval_level"]`` as a float, or None where absent or not a number."""
    node = json.loads(document) if isinstance(document, str) else document
    for key in (*path, "interval_level"):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def _run_lineage() -> None:
    op.execute("ALTER TABLE runs RENAME COLUMN kind TO trigger")
    op.execute("UPDATE runs SET trigger = 'scheduled' WHERE trigger = 'daily'")
    op.execute(
        "UPDATE runs SET as_of = (SELECT MAX(f.as_of) FROM forecasts f WHERE f.run_id = runs.id) WHERE as_of IS NULL"
    )
    with op.batch_alter_table("ingest_runs") as batch:
        batch.add_column(sa.Column("run_id", ID, nullable=True))
        batch.create_foreign_key("fk_ingest_runs_run_id", "runs", ["run_id"], ["id"])
        batch.create_index("ix_ingest_runs_run_id", ["run_id"])


def _json_columns(type_: sa.types.TypeEngine[Any], name: str) -> None:
    for table, column in JSON_COLUMNS:
        op.alter_column(table, column, type_=type_, postgresql_using=f"{column}::{name}")


def _check_foreign_keys(dialect: str) -> None:
    if dialect != "sqlite":
        return
    broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"migration 0003 left rows whose foreign keys point nowhere: {broken[:5]}")


# The views of revision 0002, for the downgrade.
OLD_LATEST_FORECASTS = """
CREATE VIEW latest_forecasts AS
SELECT id, run_id, model, model_version_id, exchange, symbol, timeframe, as_of, target_ts, horizon,
       yhat, yhat_lower, yhat_upper, beats_naive, gate_mae_ratio, gate_pvalue, gate_n, created_at
FROM (
    SELECT f.*, ROW_NUMBER() OVER (
        PARTITION BY model, exchange, symbol, timeframe, horizon ORDER BY as_of DESC, id DESC
    ) AS newest
    FROM forecasts f
    WHERE run_kind = 'live'
) ranked
WHERE newest = 1
"""
OLD_FORECAST_ACCURACY = """
CREATE VIEW forecast_accuracy AS
SELECT f.run_kind, f.model, f.exchange, f.symbol, f.timeframe, f.horizon,
       COUNT(*) AS n,
       AVG(e.abs_error) AS mae,
       SQRT(AVG(e.error * e.error)) AS rmse,
       100.0 * AVG(e.ape) AS mape,
       AVG(CASE WHEN ne.abs_error IS NOT NULL THEN e.abs_error END) / NULLIF(AVG(ne.abs_error), 0) AS mae_vs_naive,
       CAST(AVG(CASE WHEN e.direction_hit IS NULL THEN NULL WHEN e.direction_hit THEN 1 ELSE 0 END)
           AS DOUBLE PRECISION) AS direction_accuracy,
       CAST(AVG(CASE WHEN e.inside_interval IS NULL THEN NULL WHEN e.inside_interval THEN 1 ELSE 0 END)
           AS DOUBLE PRECISION) AS coverage
FROM forecasts f
JOIN forecast_errors e ON e.forecast_id = f.id
LEFT JOIN forecasts nf
       ON nf.model = 'naive' AND nf.exchange = f.exchange AND nf.symbol = f.symbol
      AND nf.timeframe = f.timeframe AND nf.as_of = f.as_of AND nf.horizon = f.horizon
      AND nf.run_kind = f.run_kind
LEFT JOIN forecast_errors ne ON ne.forecast_id = nf.id
GROUP BY f.run_kind, f.model, f.exchange, f.symbol, f.timeframe, f.horizon
"""


def downgrade() -> None:
    """Back to revision 0002: the new columns and views go; ``trigger`` is ``kind`` again (scheduled ->
    daily, cli -> manual); ``runs.as_of`` keeps the days filled in."""
    dialect = op.get_bind().dialect.name
    for statement in DROP_NEW_VIEWS:
        op.execute(statement)
    if dialect == "postgresql":
        _json_columns(JSON(), "json")
    with op.batch_alter_table("ingest_runs") as batch:
        batch.drop_index("ix_ingest_runs_run_id")
        batch.drop_constraint("fk_ingest_runs_run_id", type_="foreignkey")
        batch.drop_column("run_id")
    op.execute("UPDATE runs SET trigger = 'daily' WHERE trigger = 'scheduled'")
    op.execute("UPDATE runs SET trigger = 'manual' WHERE trigger = 'cli'")
    op.execute("ALTER TABLE runs RENAME COLUMN trigger TO kind")
    with op.batch_alter_table("forecasts") as batch:
        batch.drop_index("ix_forecasts_target_date")
        batch.drop_column("interval_level")
        batch.drop_column("target_date")
        batch.drop_column("as_of_date")
    op.execute(OLD_LATEST_FORECASTS)
    op.execute(OLD_FORECAST_ACCURACY)
    _check_foreign_keys(dialect)
