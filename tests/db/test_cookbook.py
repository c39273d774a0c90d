"""Every SQL query of docs/sql.md and the README runs, as written, on SQLite and PostgreSQL.

The queries are read from the documents themselves, so the documents and this test cannot drift;
each must return rows from the populated database, and the answers to the cookbook's questions are
checked against what ``tests/support/populate.py`` wrote.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from forecaster.model.baselines import baseline_names
from tests.support.populate import BTC, ETH, HORIZON, MODEL_LEVEL, Populated

MODELS = ("bilstm_gru", *baseline_names())  # every model of a forecast set

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = (ROOT / "docs" / "sql.md", ROOT / "README.md")
POSTGRESQL_ONLY = "-- PostgreSQL only"


def statements(path: Path) -> list[str]:
    """The SQL statements of every ```sql block of ``path``, in order."""
    blocks = re.findall(r"```sql\n(.*?)```", path.read_text(), flags=re.DOTALL)
    return [part.strip() for block in blocks for part in block.split(";\n") if part.strip().rstrip(";")]


COOKBOOK = statements(DOCUMENTS[0])


def run(populated: Populated, sql: str) -> list[dict[str, Any]]:
    engine = populated.sessions.kw["bind"]
    assert isinstance(engine, Engine)
    with engine.connect() as conn:
        return [dict(row) for row in conn.exec_driver_sql(sql.rstrip(";")).mappings()]


def query(containing: str) -> str:
    found = [sql for sql in COOKBOOK if containing in sql]
    assert len(found) == 1, f"{len(found)} cookbook queries contain {containing!r}"
    return found[0]


def test_the_documents_hold_the_questions():
    assert len(COOKBOOK) >= 10 and statements(DOCUMENTS[1])
    for heading in (
        "Did the model beat naive over the last 30 days, per symbol?",
        "Coverage per horizon",
        "The next 7 days' path",
        "Which model version made today's forecast, and what was it trained on?",
        "Failed runs, and why",
    ):
        assert f"### {heading}" in DOCUMENTS[0].read_text()
    assert "docs/sql.md" in DOCUMENTS[1].read_text()


@pytest.mark.parametrize("sql", [*COOKBOOK, *statements(DOCUMENTS[1])], ids=lambda sql: sql.splitlines()[0][:60])
def test_every_documented_query_runs_and_answers(populated, sql):
    engine = populated.sessions.kw["bind"]
    if sql.startswith(POSTGRESQL_ONLY) and engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL-only query (jsonb)")
    assert run(populated, sql), "the query returned nothing from the populated database"


def test_the_30_day_skill_answer(populated):
    rows = run(populated, query("window_days = 30 AND horizon = 1"))
    skill = {row["symbol"]: row["mae_vs_naive"] for row in rows}
    assert skill[BTC.symbol] < 1 < skill[ETH.symbol]  # the stand-in beats naive on BTC only
    assert {row["n"] for row in rows} == {30}
    assert {str(row["window_end"])[:10] for row in rows} == {f"{populated.last_day}"}
    assert [row["symbol"] for row in run(populated, query("HAVING SUM(abs_error) < SUM(naive_abs_error)"))] == [
        BTC.symbol
    ]


def test_the_coverage_answer(populated):
    rows = run(populated, query("SELECT model, horizon, n, interval_level, coverage, mean_interval_score"))
    assert [(row["model"], row["horizon"]) for row in rows] == [
        (model, h) for model in ("bilstm_gru", "naive") for h in range(1, HORIZON + 1)
    ]
    assert all(0 <= float(row["coverage"]) <= 1 for row in rows)
    assert {round(float(row["interval_level"]), 9) for row in rows} == {MODEL_LEVEL, 0.8}


def test_the_next_7_days_answer(populated):
    rows = run(populated, query("FROM latest_forecasts\nWHERE symbol = 'BTC/USDT'"))
    ours = [row for row in rows if row["model"] == "bilstm_gru"]
    days = [date.fromisoformat(str(row["target_date"])[:10]) for row in ours]
    assert days == [populated.last_day + timedelta(days=h) for h in range(1, HORIZON + 1)]
    assert all(row["yhat_lower"] < row["yhat"] < row["yhat_upper"] for row in ours)


def test_the_model_version_answer(populated):
    rows = run(populated, query("JOIN model_versions v ON v.id = f.model_version_id"))
    assert [row["symbol"] for row in rows] == [BTC.symbol, ETH.symbol]
    for row in rows:
        assert str(row["as_of_date"])[:10] == f"{populated.last_day}" and row["mode"] == "full"
        assert int(row["candles_used"]) == 120 and len(row["candles_sha256"]) == 64
        assert float(row["interval_level"]) == MODEL_LEVEL and int(row["lookback_days"]) == 60
        assert str(row["train_end"])[:10] == f"{populated.days[0]:%Y-%m-%d}"


def test_the_failed_runs_answer(populated):
    runs = run(populated, query("WHERE status = 'failed'"))
    assert [row["id"] for row in runs] == [populated.failed_run_id]
    assert runs[0]["trigger"] == "manual" and "FAILED binance DOGE/USDT 1d" in runs[0]["summary"]
    ingests = run(populated, query("JOIN runs r ON r.id = i.run_id"))
    assert [(row["run_id"], row["symbol"]) for row in ingests] == [(populated.failed_run_id, "DOGE/USDT")]
    assert "unknown symbol" in ingests[0]["error"]


def test_the_pinball_answers(populated):
    rows = run(populated, query("SUM(pinball_loss) / SUM(naive_pinball_loss) AS pinball_loss_vs_naive"))
    assert [(row["symbol"], row["horizon"]) for row in rows] == [
        (symbol, h) for symbol in (BTC.symbol, ETH.symbol) for h in range(1, HORIZON + 1)
    ]
    assert all(0 < row["n"] <= 29 and float(row["pinball_loss_vs_naive"]) > 0 for row in rows)  # targets 06-02..30
    rolling = run(populated, query("SELECT symbol, model, horizon, n, coverage, mean_pinball_loss"))
    scores = {
        (row["symbol"], row["model"], row["horizon"]): (row["mean_interval_score"], row["interval_level"])
        for row in run(populated, "SELECT * FROM forecast_accuracy_rolling WHERE window_days = 30")
    }
    assert len(rolling) == len(scores) == 2 * len(MODELS) * HORIZON
    for row in rolling:  # a constant level: the mean pinball loss is alpha/4 times the mean interval score
        score, level = scores[(row["symbol"], row["model"], row["horizon"])]
        assert float(row["mean_pinball_loss"]) == pytest.approx((1 - level) / 4 * score, rel=1e-9)
