"""Migration 0005 on SQLite and PostgreSQL: the score views gain the pinball loss, figures computed by hand;
every column they had keeps its values, and a downgrade restores the views of revision 0003 exactly.

Hand-made forecasts of one series, horizon 1 (alpha = 1 - level; the quantiles are alpha/2 and 1 - alpha/2):

| as-of | model | level | interval | actual | lower bound's loss | upper bound's loss | pinball_loss |
| --- | --- | --- | --- | --- | --- | --- | --- |
| d0 | bilstm_gru | 0.8 | 90-110 | 100 (inside) | 0.1 x 10 = 1 | 0.1 x 10 = 1 | 1 |
| d1 | bilstm_gru | 0.8 | 90-110 | 85 (below) | 0.9 x 5 = 4.5 | 0.1 x 25 = 2.5 | 3.5 |
| d2 | bilstm_gru | 0.8 | 90-110 | 120 (above) | 0.1 x 30 = 3 | 0.9 x 10 = 9 | 6 |
| d0 | naive | 0.9 | 95-105 | 100 (inside) | 0.05 x 5 = 0.25 | 0.05 x 5 = 0.25 | 0.25 |
| d1 | naive | 0.9 | 95-105 | 85 (below) | 0.95 x 10 = 9.5 | 0.05 x 20 = 1 | 5.25 |
| d0 | drift | 0.8 | none | 100 | | | NULL |

Naive made no forecast as of d2, so that one of the model's has no naive twin.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from forecaster.db.engine import make_engine
from forecaster.db.migrate import current_revision, downgrade, upgrade
from forecaster.db.models import Forecast, ForecastEvaluation
from tests.support.postgres import DIALECTS, scratch_database

# This migration and the one before it (re-chained at a merge: change these two and nothing else).
REVISION, PREVIOUS = "0005", "0004"
VIEWS = {  # the views 0005 recreates, each with the columns its rows are sorted by
    "forecast_scores": ["forecast_id"],
    "forecast_accuracy": ["model", "horizon"],
    "forecast_accuracy_rolling": ["model", "horizon", "window_days"],
}
SERIES = {"exchange": "binance", "symbol": "BTC/USDT", "timeframe": "1d", "run_kind": "live"}
D0 = datetime(2024, 1, 5, tzinfo=UTC)
ACTUALS = {0: 100.0, 1: 85.0, 2: 120.0}  # the close of the day after each as-of day
FORECASTS = [  # id, model, as-of day, level, lower, upper, expected pinball_loss, expected naive_pinball_loss
    (1, "bilstm_gru", 0, 0.8, 90.0, 110.0, 1.0, 0.25),
    (2, "bilstm_gru", 1, 0.8, 90.0, 110.0, 3.5, 5.25),
    (3, "bilstm_gru", 2, 0.8, 90.0, 110.0, 6.0, None),
    (4, "naive", 0, 0.9, 95.0, 105.0, 0.25, 0.25),
    (5, "naive", 1, 0.9, 95.0, 105.0, 5.25, 5.25),
    (6, "drift", 0, 0.8, None, None, None, 0.25),
]


def write_forecasts(engine: sa.Engine) -> None:
    """The forecasts and their scores (revision 0004's tables are the models' tables)."""
    forecasts, errors = [], []
    for forecast_id, model, day, level, lower, upper, *_ in FORECASTS:
        as_of = D0 + timedelta(days=day)
        forecasts.append(
            {"id": forecast_id, "run_id": None, "model": model, "model_version_id": None, **SERIES, "as_of": as_of,
             "target_ts": as_of + timedelta(days=1), "as_of_date": as_of.date(),
             "target_date": as_of.date() + timedelta(days=1), "horizon": 1, "yhat": 100.0, "yhat_lower": lower,
             "yhat_upper": upper, "interval_level": level, "beats_naive": None, "gate_mae_ratio": None,
             "gate_pvalue": None, "gate_n": None, "created_at": as_of}
        )  # fmt: skip
        actual = ACTUALS[day]
        inside = None if lower is None or upper is None else lower <= actual <= upper
        errors.append(
            {"forecast_id": forecast_id, "actual": actual, "error": actual - 100.0, "abs_error": abs(actual - 100.0),
             "ape": abs(actual - 100.0) / actual, "direction_hit": None, "inside_interval": inside,
             "evaluated_at": as_of + timedelta(days=2)}
        )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(sa.insert(Forecast.__table__), forecasts)
        conn.execute(sa.insert(ForecastEvaluation.__table__), errors)


def views(engine: sa.Engine) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Each view's columns and rows, in a fixed order."""
    found = {}
    with engine.connect() as conn:
        for name, order in VIEWS.items():
            query = sa.select(sa.literal_column("*")).select_from(sa.table(name)).order_by(*map(sa.column, order))
            result = conn.execute(query)
            found[name] = (list(result.keys()), [tuple(row) for row in result])
    return found


def definitions(engine: sa.Engine) -> dict[str, str]:
    """The stored SQL of every view."""
    query = {
        "sqlite": "SELECT name, sql FROM sqlite_master WHERE type = 'view'",
        "postgresql": "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'",
    }[engine.dialect.name]
    with engine.connect() as conn:
        return {name: sql for name, sql in conn.execute(sa.text(query))}


def keep(found: tuple[list[str], list[tuple[Any, ...]]], columns: list[str]) -> list[tuple[Any, ...]]:
    """The rows of ``found`` on ``columns`` only."""
    names, rows = found
    return [tuple(row[names.index(column)] for column in columns) for row in rows]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_0005_adds_the_pinball_loss_and_its_downgrade_restores_the_0003_views(dialect, tmp_path):
    with scratch_database(dialect, tmp_path) as url:
        engine = make_engine(url)
        try:
            upgrade(engine, PREVIOUS)
            write_forecasts(engine)
            before, sql_before = views(engine), definitions(engine)

            assert upgrade(engine, REVISION) == (PREVIOUS, REVISION)
            after = views(engine)
            for name, (columns, _) in before.items():  # every old column, its values unchanged
                assert keep(after[name], columns) == keep(before[name], columns), name
            check_pinball(after)

            downgrade(engine, PREVIOUS)
            assert current_revision(engine) == PREVIOUS
            assert views(engine) == before and definitions(engine) == sql_before
            upgrade(engine)
            assert views(engine) == after
        finally:
            engine.dispose()


def check_pinball(after: dict[str, tuple[list[str], list[tuple[Any, ...]]]]) -> None:
    scores = after["forecast_scores"]
    names = scores[0]
    assert names[names.index("naive_interval_score") + 1 : names.index("inside_interval")] == [
        "pinball_loss",
        "naive_pinball_loss",
    ]
    got = keep(scores, ["forecast_id", "pinball_loss", "naive_pinball_loss", "interval_score", "interval_level"])
    for (forecast_id, pinball, naive, score, level), expected in zip(got, FORECASTS, strict=True):
        assert (forecast_id, pinball, naive) == pytest.approx(expected[:1] + expected[-2:], abs=1e-12)
        if score is not None:  # the mean pinball loss of the bounds is alpha/4 times the Winkler score
            assert pinball == pytest.approx((1 - level) / 4 * score, rel=1e-12)

    accuracy = after["forecast_accuracy"]
    assert accuracy[0][-4:] == ["mean_interval_score", "interval_score_vs_naive", "mean_pinball_loss",
                                "pinball_loss_vs_naive"]  # fmt: skip
    rows = {row[0]: row[1:] for row in keep(accuracy, ["model", "n", "mean_pinball_loss", "pinball_loss_vs_naive"])}
    assert rows["bilstm_gru"] == pytest.approx((3, (1 + 3.5 + 6) / 3, (1 + 3.5) / (0.25 + 5.25)), rel=1e-12)
    assert rows["naive"] == pytest.approx((2, (0.25 + 5.25) / 2, 1.0), rel=1e-12)
    assert rows["drift"] == (1, None, None)  # no interval: no loss, no ratio
    # with the levels unequal, the pinball ratio is not the interval score's (90 / 220)
    ratios = keep(accuracy, ["model", "interval_score_vs_naive"])
    assert dict(ratios)["bilstm_gru"] == pytest.approx((20 + 70) / (10 + 210), rel=1e-12)

    rolling = keep(after["forecast_accuracy_rolling"], ["model", "window_days", "window_end", "mean_pinball_loss"])
    assert {(model, days) for model, days, *_ in rolling} == {(m, d) for m in rows for d in (30, 90)}
    for model, _, window_end, pinball in rolling:
        assert str(window_end)[:10] == f"{date(2024, 1, 8)}"
        assert pinball == (pytest.approx(rows[model][1], rel=1e-12) if rows[model][1] is not None else None)
