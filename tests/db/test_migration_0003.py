"""Migration 0003 on a populated database at revision 0002: every row survives, the new columns are filled.

The tables are written as revision 0002 had them (frozen here, not the current models), on SQLite
and on PostgreSQL, then upgraded; a downgrade brings the same rows back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from forecaster.db.engine import make_engine
from forecaster.db.migrate import current_revision, downgrade, upgrade
from forecaster.db.models import Base
from forecaster.db.types import UTCDateTime
from tests.support.postgres import DIALECTS, scratch_database

# This migration and the one before it (re-chained at a merge: change these two and nothing else).
REVISION, PREVIOUS = "0003", "0002"
DAY = datetime(2024, 1, 5, tzinfo=UTC)
MIGRATION_INDEXES = {
    "ix_ingest_runs_key",
    "ix_ingest_runs_run_id",
    "ix_model_versions_key",
    "ix_forecasts_target",
    "ix_forecasts_target_date",
}
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def t(days: int = 0) -> datetime:
    return DAY + timedelta(days=days)


# The tables of revision 0002: their columns and types (constraints do not matter for writing rows).
SCHEMA_0002 = {
    "candles": "exchange:s symbol:s timeframe:s ts:t open:f high:f low:f close:f volume:f ingested_at:t",
    "ingest_runs": "id:id exchange:s symbol:s timeframe:s source:s requested_since:t started_at:t finished_at:t "
    "status:s rows_fetched:i rows_new:i rows_updated:i rows_rejected:i first_ts:t last_ts:t gaps:j rejected:j error:s",
    "runs": "id:id kind:s flow_run_id:s as_of:t parameters:j manifest:j started_at:t finished_at:t status:s summary:s",
    "model_versions": "id:id exchange:s symbol:s timeframe:s run_kind:s created_at:t mode:s parent_id:id run_id:id "
    "train_start:t train_end:t hyperparameters:j train_loss:f val_loss:f epochs:i duration_s:f checkpoint_path:s "
    "checkpoint_sha256:s manifest:j",
    "forecasts": "id:id run_id:id run_kind:s model:s model_version_id:id exchange:s symbol:s timeframe:s as_of:t "
    "target_ts:t horizon:i yhat:f yhat_lower:f yhat_upper:f beats_naive:b gate_mae_ratio:f gate_pvalue:f gate_n:i "
    "created_at:t",
    "forecast_errors": "forecast_id:id actual:f error:f abs_error:f ape:f direction_hit:b inside_interval:b "
    "evaluated_at:t",
}
TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "id": ID,
    "s": sa.String(),
    "f": sa.Float(),
    "i": sa.Integer(),
    "b": sa.Boolean(),
    "t": UTCDateTime(),
    "j": sa.JSON(),
}


def v0002() -> dict[str, sa.Table]:
    meta = sa.MetaData()
    return {
        name: sa.Table(name, meta, *(sa.Column(c, TYPES[k]) for c, k in (item.split(":") for item in spec.split())))
        for name, spec in SCHEMA_0002.items()
    }


SERIES = {"exchange": "binance", "symbol": "BTC/USDT", "timeframe": "1d"}
RUNS = [  # id, kind, as_of, parameters
    (1, "daily", None, {"job": {"model": {"interval_level": 0.85}}, "pairs": ["BTC/USDT"]}),
    (2, "manual", t(), {"pairs": ["BTC/USDT"]}),
    (3, "backtest", None, {"start": "2024-01-01", "end": "2024-01-05"}),
    (4, "daily", None, {"job": {}}),  # a run that wrote no forecast: its day stays unknown
]
FORECASTS = [  # id, run_id, run_kind, model, model_version_id, horizon, expected interval_level
    (1, 1, "live", "bilstm_gru", 1, 1, 0.95),  # the version's hyperparameters
    (2, 1, "live", "bilstm_gru", 1, 2, 0.95),
    (3, 1, "live", "naive", None, 1, 0.85),  # its run's job configuration
    (4, 1, "live", "naive", None, 2, 0.85),
    (5, 2, "live", "drift", None, 1, 0.8),  # a run without a job configuration: the default
    (6, None, "live", "moving_average", None, 1, 0.8),  # no run at all: the default
    (7, 3, "backtest", "naive", None, 1, 0.8),
]


def rows() -> dict[str, list[dict[str, Any]]]:
    """Rows in every table of revision 0002."""
    candles = [
        {**SERIES, "ts": t(d), "open": 100.0 + d, "high": 102.0 + d, "low": 99.0 + d, "close": 101.0 + d,
         "volume": 5.0, "ingested_at": t(d + 1)}
        for d in range(-4, 3)
    ]  # fmt: skip
    ingests = [
        {"id": 1, **SERIES, "source": "exchange", "requested_since": None, "started_at": t(1), "finished_at": t(1),
         "status": "ok", "rows_fetched": 7, "rows_new": 7, "rows_updated": 0, "rows_rejected": 1, "first_ts": t(-4),
         "last_ts": t(2), "gaps": [{"first": "2024-01-03", "missing": 1}], "rejected": [{"ts": 1, "reason": "NaN"}],
         "error": None},
        {"id": 2, **SERIES, "source": "exchange", "requested_since": t(-30), "started_at": t(2), "finished_at": t(2),
         "status": "failed", "rows_fetched": 0, "rows_new": 0, "rows_updated": 0, "rows_rejected": 0,
         "first_ts": None, "last_ts": None, "gaps": [], "rejected": [], "error": "exchange down"},
    ]  # fmt: skip
    runs = [
        {"id": i, "kind": kind, "flow_run_id": None, "as_of": as_of, "parameters": parameters,
         "manifest": {"code_version": "0.1"}, "started_at": t(i), "finished_at": t(i), "status": "completed",
         "summary": "ok"}
        for i, kind, as_of, parameters in RUNS
    ]  # fmt: skip
    version = {
        "id": 1, **SERIES, "run_kind": "live", "created_at": t(), "mode": "full", "parent_id": None, "run_id": 1,
        "train_start": t(-120), "train_end": t(), "hyperparameters": {"model": {"interval_level": 0.95}},
        "train_loss": 0.1, "val_loss": 0.2, "epochs": 3, "duration_s": 1.0, "checkpoint_path": "/x.ckpt",
        "checkpoint_sha256": "0" * 64, "manifest": {"candles": {"count": 120}},
    }  # fmt: skip
    forecasts = [
        {"id": i, "run_id": run, "run_kind": kind, "model": model, "model_version_id": version_id, **SERIES,
         "as_of": t(), "target_ts": t(h), "horizon": h, "yhat": 104.0 + i, "yhat_lower": 100.0, "yhat_upper": 110.0,
         "beats_naive": True if model == "bilstm_gru" else None, "gate_mae_ratio": None, "gate_pvalue": None,
         "gate_n": None, "created_at": t()}
        for i, run, kind, model, version_id, h, _ in FORECASTS
    ]  # fmt: skip
    errors = [
        {"forecast_id": f["id"], "actual": 106.0, "error": 106.0 - f["yhat"], "abs_error": abs(106.0 - f["yhat"]),
         "ape": abs(106.0 - f["yhat"]) / 106.0, "direction_hit": None, "inside_interval": True, "evaluated_at": t(2)}
        for f in forecasts
    ]  # fmt: skip
    return {
        "candles": candles,
        "ingest_runs": ingests,
        "runs": runs,
        "model_versions": [version],
        "forecasts": forecasts,
        "forecast_errors": errors,
    }


def dump(engine: sa.Engine, tables: dict[str, sa.Table], rename: dict[str, str] | None = None) -> dict[str, list]:
    """Every row of the 0002 columns, in key order (``rename``: a 0002 column's name now)."""
    found = {}
    with engine.connect() as conn:
        for name, table in tables.items():
            columns = [sa.column((rename or {}).get(c.name, c.name), c.type).label(c.name) for c in table.columns]
            query = sa.select(*columns).select_from(sa.table(name)).order_by(*columns[:4])
            found[name] = [dict(row) for row in conn.execute(query).mappings()]
    return found


@pytest.mark.parametrize("dialect", DIALECTS)
def test_0003_upgrades_a_populated_0002_database_losing_nothing(dialect, tmp_path):
    with scratch_database(dialect, tmp_path) as url:
        engine = make_engine(url)
        try:
            upgrade(engine, PREVIOUS)
            tables, written = v0002(), rows()
            with engine.begin() as conn:
                for name, table in tables.items():
                    conn.execute(table.insert(), written[name])
            before = dump(engine, tables)
            assert {name: len(found) for name, found in before.items()} == {n: len(r) for n, r in written.items()}

            assert upgrade(engine, REVISION) == (PREVIOUS, REVISION)
            after = dump(engine, tables, rename={"kind": "trigger"})
            triggers = {"daily": "scheduled", "manual": "manual", "backtest": "backtest"}
            for run in before["runs"]:
                run["kind"] = triggers[run["kind"]]
                run["as_of"] = run["as_of"] or {1: t(), 3: t()}.get(run["id"])
            assert after == before
            check_new_columns(engine)

            downgrade(engine, PREVIOUS)
            assert current_revision(engine) == PREVIOUS
            for run in before["runs"]:
                run["kind"] = {"scheduled": "daily"}.get(run["kind"], run["kind"])
            assert dump(engine, tables) == before
        finally:
            engine.dispose()


def check_new_columns(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        forecasts = conn.execute(
            sa.select(
                sa.column("id"), sa.column("as_of_date", sa.Date), sa.column("target_date", sa.Date),
                sa.column("interval_level"), sa.column("horizon"),
            ).select_from(sa.table("forecasts")).order_by(sa.column("id"))
        ).all()  # fmt: skip
        runs = conn.execute(sa.text("SELECT id, trigger FROM runs ORDER BY id")).all()
        ingests = conn.execute(sa.text("SELECT run_id FROM ingest_runs")).scalars().all()
        scores = conn.execute(sa.text("SELECT COUNT(*), SUM(naive_abs_error) FROM forecast_scores")).one()
        accuracy = conn.execute(sa.text("SELECT SUM(n) FROM forecast_accuracy")).scalar_one()
        latest = conn.execute(sa.text("SELECT MIN(interval_level), COUNT(*) FROM latest_forecasts")).one()
        json_types = (
            conn.execute(sa.text("SELECT DISTINCT data_type FROM information_schema.columns WHERE table_name = 'runs' "
                                 "AND column_name IN ('parameters', 'manifest')")).scalars().all()
            if engine.dialect.name == "postgresql" else ["jsonb"]
        )  # fmt: skip
    expected_levels = {i: level for i, *_, level in FORECASTS}
    for row in forecasts:
        assert row.as_of_date == date(2024, 1, 5) and row.target_date == date(2024, 1, 5) + timedelta(days=row.horizon)
        assert row.interval_level == expected_levels[row.id]
    assert [tuple(row) for row in runs] == [(1, "scheduled"), (2, "manual"), (3, "backtest"), (4, "scheduled")]
    assert ingests == [None, None]
    assert tuple(scores) == (7, pytest.approx(13.0))  # naive twins: |106 - 107| x4, |106 - 108| x2, |106 - 111|
    assert accuracy == 7 and latest == (0.8, 6)
    assert json_types == ["jsonb"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_migrated_schema_is_the_models(dialect, tmp_path):
    """Alembic's comparison finds the models and the migrated tables alike (types, jsonb, nullability,
    keys); the only differences are the indexes that the migrations alone declare."""
    with scratch_database(dialect, tmp_path) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            with engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = compare_metadata(context, Base.metadata)
        finally:
            engine.dispose()
    assert all(change[0] == "remove_index" for change in diff), diff
    assert {change[1].name for change in diff} == MIGRATION_INDEXES
