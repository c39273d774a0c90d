"""The score views against figures computed here from the raw tables, on SQLite and PostgreSQL.

Observations 1-5 and 8 of issue 12: skill over a window without self-joins, one unit per ratio,
the candle's day as a column, the interval level on every forecast, jsonb, one definition of accuracy.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select, text

from forecaster.db.models import Forecast, ForecastEvaluation
from forecaster.report.accuracy import accuracy_table, rolling_accuracy
from forecaster.results.scores import METRICS, accuracy_query, forecast_scores
from tests.support.populate import BASELINE_LEVEL, BTC, ETH, MODEL_LEVEL, Populated

SCORE_COLUMNS = [
    "exchange",
    "symbol",
    "timeframe",
    "model",
    "run_kind",
    "horizon",
    "as_of_date",
    "target_date",
    "actual",
    "yhat",
    "yhat_lower",
    "yhat_upper",
    "abs_error",
    "squared_error",
    "naive_abs_error",
    "interval_score",
    "naive_interval_score",
    "pinball_loss",
    "naive_pinball_loss",
    "inside_interval",
    "direction_hit",
]
JSON_COLUMNS = {
    ("ingest_runs", "gaps"),
    ("ingest_runs", "rejected"),
    ("runs", "parameters"),
    ("runs", "manifest"),
    ("model_versions", "hyperparameters"),
    ("model_versions", "manifest"),
}


def engine_of(populated: Populated) -> Engine:
    bind = populated.sessions.kw["bind"]
    assert isinstance(bind, Engine)
    return bind


def pinball(actual: pd.Series, bound: pd.Series, quantile: pd.Series) -> pd.Series:
    """The pinball (quantile) loss of ``bound`` as the ``quantile`` of ``actual``."""
    return np.maximum(quantile * (actual - bound), (quantile - 1) * (actual - bound))


def raw_scores(populated: Populated) -> pd.DataFrame:
    """Scored forecasts from the tables, with naive's twin, the Winkler score and the pinball loss computed here."""
    with populated.sessions() as session:
        rows = session.execute(
            select(
                Forecast.id,
                Forecast.model,
                Forecast.symbol,
                Forecast.horizon,
                Forecast.as_of,
                Forecast.target_ts,
                Forecast.yhat,
                Forecast.yhat_lower,
                Forecast.yhat_upper,
                Forecast.interval_level,
                ForecastEvaluation.actual,
                ForecastEvaluation.abs_error,
                ForecastEvaluation.ape,
                ForecastEvaluation.inside_interval.label("inside"),
            ).join(ForecastEvaluation)
        ).all()
    frame = pd.DataFrame(rows, columns=list(rows[0]._fields))
    alpha = 1 - frame["interval_level"]
    below = (frame["yhat_lower"] - frame["actual"]).clip(lower=0)
    above = (frame["actual"] - frame["yhat_upper"]).clip(lower=0)
    frame["interval_score"] = frame["yhat_upper"] - frame["yhat_lower"] + 2 / alpha * (below + above)
    lower = pinball(frame["actual"], frame["yhat_lower"], alpha / 2)
    frame["pinball_loss"] = (lower + pinball(frame["actual"], frame["yhat_upper"], 1 - alpha / 2)) / 2
    twin = ["symbol", "horizon", "as_of", "abs_error", "interval_score", "pinball_loss"]
    naive = frame.loc[frame["model"] == "naive", twin].rename(columns={name: f"naive_{name}" for name in twin[3:]})
    frame = frame.merge(naive, on=["symbol", "horizon", "as_of"], how="left")
    frame["target_date"] = frame["target_ts"].map(lambda ts: ts.date())
    return frame


def view_scores(populated: Populated) -> pd.DataFrame:
    with populated.sessions() as session:
        rows = session.execute(select(forecast_scores)).mappings().all()
    return pd.DataFrame(rows)


def test_forecast_scores_is_one_row_per_scored_forecast_next_to_naive(populated):
    raw, view = raw_scores(populated), view_scores(populated)
    assert list(view.columns) == ["forecast_id", *SCORE_COLUMNS[:12], "interval_level", *SCORE_COLUMNS[12:]]
    assert len(view) == len(raw) and view["forecast_id"].is_unique
    merged = view.merge(raw, left_on="forecast_id", right_on="id", suffixes=("", "_raw"))
    assert len(merged) == len(raw)
    for column in (
        "abs_error",
        "naive_abs_error",
        "interval_score",
        "naive_interval_score",
        "pinball_loss",
        "naive_pinball_loss",
    ):
        np.testing.assert_allclose(merged[column].astype(float), merged[f"{column}_raw"].astype(float), rtol=1e-12)
    np.testing.assert_allclose(merged["squared_error"], merged["abs_error_raw"] ** 2, rtol=1e-12)
    assert (merged["target_date"] == merged["target_date_raw"]).all()
    # naive's twin is naive itself on its own rows; every forecast here has a scored naive twin
    naive = merged[merged["model"] == "naive"]
    assert (naive["naive_abs_error"] == naive["abs_error"]).all() and merged["naive_abs_error"].notna().all()
    # the Winkler score is the width when the actual lies inside, and more when it does not
    inside = merged["inside_interval"].astype(bool)
    width = merged["yhat_upper"] - merged["yhat_lower"]
    np.testing.assert_allclose(merged.loc[inside, "interval_score"], width[inside], rtol=1e-12)
    assert (merged.loc[~inside, "interval_score"] > width[~inside]).all() and (~inside).any()
    # the mean pinball loss of the bounds is alpha/4 times the Winkler score, whatever the level
    alpha = 1 - merged["interval_level"].astype(float)
    np.testing.assert_allclose(merged["pinball_loss"], alpha / 4 * merged["interval_score"], rtol=1e-12)


def test_skill_over_a_window_is_one_where_clause(populated):
    """Observation 1: "which symbols did the model beat naive on over the last 30 days?"."""
    since = populated.last_day - timedelta(days=30)
    query = text(
        "SELECT symbol, SUM(abs_error) / SUM(naive_abs_error) AS skill FROM forecast_scores "
        "WHERE run_kind = 'live' AND model = 'bilstm_gru' AND naive_abs_error IS NOT NULL "
        "AND target_date > :since GROUP BY symbol ORDER BY symbol"
    )
    with engine_of(populated).connect() as conn:
        got = dict(conn.execute(query, {"since": since}).all())
    raw = raw_scores(populated)
    recent = raw[(raw["model"] == "bilstm_gru") & (raw["target_date"] > since)]
    sums = recent.groupby("symbol")[["abs_error", "naive_abs_error"]].sum()
    expected = (sums["abs_error"] / sums["naive_abs_error"]).to_dict()
    assert got == pytest.approx(expected, rel=1e-12)
    assert got[BTC.symbol] < 1 < got[ETH.symbol]  # the stand-in beats naive on BTC only


def test_every_ratio_is_a_fraction_unless_named_pct(populated):
    """Observation 2: forecast_accuracy.mape was a percent beside fractions; now it says so."""
    with engine_of(populated).connect() as conn:
        view = pd.DataFrame(conn.execute(text("SELECT * FROM forecast_accuracy")).mappings().all())
    assert "mape" not in view.columns and list(view.columns[6:]) == list(METRICS)
    raw = raw_scores(populated)
    for (model, symbol, horizon), group in raw.groupby(["model", "symbol", "horizon"]):
        row = view[(view["model"] == model) & (view["symbol"] == symbol) & (view["horizon"] == horizon)].iloc[0]
        assert row["mape_pct"] == pytest.approx(100 * group["ape"].mean(), rel=1e-12)
        assert group["ape"].between(0, 1).all()  # forecast_errors.ape: a fraction
        ratio = group["abs_error"].sum() / group["naive_abs_error"].sum()
        assert row["mae_vs_naive"] == pytest.approx(ratio, rel=1e-12)  # a plain ratio, 1 = level with naive
        assert row["coverage"] == pytest.approx(group["inside"].mean(), rel=1e-12)
        assert row["mean_pinball_loss"] == pytest.approx(group["pinball_loss"].mean(), rel=1e-12)  # price
        ratio = group["pinball_loss"].sum() / group["naive_pinball_loss"].sum()
        assert row["pinball_loss_vs_naive"] == pytest.approx(ratio, rel=1e-12)
    for column in ("coverage", "direction_accuracy", "interval_level"):
        known = view[column].dropna().astype(float)
        assert known.between(0, 1).all() and len(known), column
    ours = view[view["model"] == "bilstm_gru"]
    assert ours["interval_level"].to_numpy() == pytest.approx(MODEL_LEVEL, rel=1e-12)


def test_the_utc_day_of_a_candle_is_a_column(populated):
    """Observation 3: `as_of::date` gives the day before in a session west of UTC; as_of_date does not."""
    engine = engine_of(populated)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET TIME ZONE 'America/New_York'"))
            shifted = conn.execute(text("SELECT MAX(as_of::date) FROM forecasts")).scalar_one()
            assert shifted == populated.last_day - timedelta(days=1)  # the trap the column avoids
        rows = conn.execute(text("SELECT as_of, target_ts, as_of_date, target_date, horizon FROM forecasts")).all()
    frame = pd.DataFrame(rows, columns=["as_of", "target_ts", "as_of_date", "target_date", "horizon"])
    for column in ("as_of", "target_ts"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.date
    for column in ("as_of_date", "target_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    assert (frame["as_of_date"] == frame["as_of"]).all() and (frame["target_date"] == frame["target_ts"]).all()
    assert (frame["target_date"] - frame["as_of_date"] == pd.to_timedelta(frame["horizon"], unit="D")).all()
    assert max(frame["as_of_date"]) == populated.last_day


def test_every_forecast_stores_its_interval_level(populated):
    """Observation 4: the level was only inside model_versions.hyperparameters, and baselines had none."""
    with engine_of(populated).connect() as conn:
        levels = dict(conn.execute(text("SELECT model, MIN(interval_level) FROM forecasts GROUP BY model")).all())
        maxima = dict(conn.execute(text("SELECT model, MAX(interval_level) FROM forecasts GROUP BY model")).all())
        nulls = conn.execute(text("SELECT COUNT(*) FROM forecasts WHERE interval_level IS NULL")).scalar_one()
    assert (
        levels
        == maxima
        == {"bilstm_gru": MODEL_LEVEL, "naive": BASELINE_LEVEL, "drift": 0.8, "moving_average": 0.8, "garch": 0.8}
    )
    assert nulls == 0


def test_json_columns_are_jsonb_on_postgresql(populated):
    """Observation 5: `@>` and GIN indexes need jsonb; SQLite keeps JSON text and its json functions."""
    engine = engine_of(populated)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            types = conn.execute(
                text("SELECT table_name, column_name FROM information_schema.columns WHERE data_type = 'jsonb'")
            ).all()
            assert set(map(tuple, types)) == JSON_COLUMNS
            found = conn.execute(
                text("SELECT id FROM runs WHERE parameters @> CAST(:doc AS jsonb)"),
                {"doc": '{"job": {"model": {"interval_level": 0.8}}}'},
            ).all()
            assert [row[0] for row in found] == [populated.run_id]
            conn.execute(text("CREATE INDEX ix_runs_parameters ON runs USING GIN (parameters)"))
            conn.rollback()  # the index could be made; the shared database stays as it was
        count = conn.execute(text("SELECT manifest -> 'candles' ->> 'count' FROM model_versions")).scalars().all()
    assert [int(value) for value in count] == [120, 120]


def test_python_accuracy_is_the_views_definition(populated):
    """Observation 8: the reports' windowed accuracy uses the views' expressions, column for column."""
    with engine_of(populated).connect() as conn:
        view = pd.DataFrame(conn.execute(text("SELECT * FROM forecast_accuracy")).mappings().all())
    with populated.sessions() as session:
        table = accuracy_table(session)
        mirrored = pd.DataFrame(session.execute(accuracy_query()).mappings().all())
    assert len(table) == len(view) == len(mirrored) == 2 * 5 * 7
    keys = ["model", "symbol", "horizon"]
    joined = table.merge(view, on=keys, suffixes=("", "_view")).merge(mirrored, on=keys, suffixes=("", "_q"))
    assert len(joined) == len(table)
    for column in METRICS:
        left, right = joined[column], joined[f"{column}_view"]
        if column.endswith("_date"):
            assert (pd.to_datetime(left) == pd.to_datetime(right)).all(), column
        else:
            # to the last bits but summation order, which each plan chooses
            np.testing.assert_allclose(left.astype(float), right.astype(float), rtol=1e-12, err_msg=column)


def test_rolling_windows_end_at_the_newest_scored_target(populated):
    with populated.sessions() as session:
        rolling = rolling_accuracy(session, [BTC, ETH])
        end = populated.last_day
        s = forecast_scores.c
        windowed = {}
        for days in (30, 90):
            query = accuracy_query(
                s.run_kind == "live", s.target_date > end - timedelta(days=days), s.target_date <= end
            )
            windowed[days] = pd.DataFrame(session.execute(query).mappings().all())
    assert set(rolling["window_end"]) == {end} and set(rolling["window_days"]) == {30, 90}
    ours = rolling[(rolling["symbol"] == BTC.symbol) & (rolling["model"] == "bilstm_gru")]
    assert ours.set_index(["window_days", "horizon"]).loc[(30, 1), "n"] == 30  # one h1 target a day
    assert ours.set_index(["window_days", "horizon"]).loc[(90, 7), "n"] == 40 - 7  # everything that matured
    for days, expected in windowed.items():
        got = rolling[rolling["window_days"] == days].merge(expected, on=["model", "symbol", "horizon"])
        assert len(got) == len(expected) == 2 * 5 * 7
        for column in METRICS[4:]:
            np.testing.assert_allclose(got[f"{column}_x"].astype(float), got[f"{column}_y"].astype(float), rtol=1e-12)
