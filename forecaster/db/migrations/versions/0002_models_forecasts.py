"""runs, model_versions, forecasts, forecast_errors and the views latest_forecasts, forecast_accuracy

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from forecaster.db.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

LATEST_FORECASTS = """
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

# mae_vs_naive divides by naive's MAE on the same (as_of, horizon) forecasts only.
FORECAST_ACCURACY = """
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


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("flow_run_id", sa.String(64), nullable=True),
        sa.Column("as_of", UTCDateTime(), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("exchange", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(16), nullable=False),
        sa.Column("run_kind", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("parent_id", ID, sa.ForeignKey("model_versions.id"), nullable=True),
        sa.Column("run_id", ID, sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("train_start", UTCDateTime(), nullable=False),
        sa.Column("train_end", UTCDateTime(), nullable=False),
        sa.Column("hyperparameters", sa.JSON(), nullable=False),
        sa.Column("train_loss", sa.Float(), nullable=True),
        sa.Column("val_loss", sa.Float(), nullable=True),
        sa.Column("epochs", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("checkpoint_path", sa.String(1024), nullable=False),
        sa.Column("checkpoint_sha256", sa.String(64), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.UniqueConstraint("exchange", "symbol", "timeframe", "run_kind", "train_end", name="uq_model_versions_day"),
    )
    op.create_index(
        "ix_model_versions_key", "model_versions", ["exchange", "symbol", "timeframe", "run_kind", "train_end"]
    )
    op.create_table(
        "forecasts",
        sa.Column("id", ID, primary_key=True),
        sa.Column("run_id", ID, sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("run_kind", sa.String(16), nullable=False),
        sa.Column("model", sa.String(32), nullable=False),
        sa.Column("model_version_id", ID, sa.ForeignKey("model_versions.id"), nullable=True),
        sa.Column("exchange", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(16), nullable=False),
        sa.Column("as_of", UTCDateTime(), nullable=False),
        sa.Column("target_ts", UTCDateTime(), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("yhat", sa.Float(), nullable=False),
        sa.Column("yhat_lower", sa.Float(), nullable=True),
        sa.Column("yhat_upper", sa.Float(), nullable=True),
        sa.Column("beats_naive", sa.Boolean(), nullable=True),
        sa.Column("gate_mae_ratio", sa.Float(), nullable=True),
        sa.Column("gate_pvalue", sa.Float(), nullable=True),
        sa.Column("gate_n", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint(
            "model", "exchange", "symbol", "timeframe", "as_of", "horizon", "run_kind", name="uq_forecasts_key"
        ),
    )
    op.create_index("ix_forecasts_target", "forecasts", ["exchange", "symbol", "timeframe", "target_ts"])
    op.create_table(
        "forecast_errors",
        sa.Column("forecast_id", ID, sa.ForeignKey("forecasts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("actual", sa.Float(), nullable=False),
        sa.Column("error", sa.Float(), nullable=False),
        sa.Column("abs_error", sa.Float(), nullable=False),
        sa.Column("ape", sa.Float(), nullable=False),
        sa.Column("direction_hit", sa.Boolean(), nullable=True),
        sa.Column("inside_interval", sa.Boolean(), nullable=True),
        sa.Column("evaluated_at", UTCDateTime(), nullable=False),
    )
    op.execute(LATEST_FORECASTS)
    op.execute(FORECAST_ACCURACY)


def downgrade() -> None:
    op.execute("DROP VIEW forecast_accuracy")
    op.execute("DROP VIEW latest_forecasts")
    op.drop_table("forecast_errors")
    op.drop_index("ix_forecasts_target", table_name="forecasts")
    op.drop_table("forecasts")
    op.drop_index("ix_model_versions_key", table_name="model_versions")
    op.drop_table("model_versions")
    op.drop_table("runs")
