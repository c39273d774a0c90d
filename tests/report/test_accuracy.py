"""The accuracy table over a database filled by the job's own steps, checked against values computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db.models import Forecast, ForecastEvaluation
from forecaster.report.accuracy import accuracy_table
from forecaster.series import SeriesKey
from tests.support.replay import FILL_JOB
from tests.support.replay import FILLED_KEY as KEY

EMPTY = SeriesKey("binance", "ETH/USDT", "1d")
HORIZON = FILL_JOB.model.horizon


def scored(sessions: sessionmaker[Session]) -> pd.DataFrame:
    with sessions() as session:
        rows = session.execute(
            select(
                Forecast.model,
                Forecast.horizon,
                Forecast.as_of,
                Forecast.target_ts,
                Forecast.yhat,
                ForecastEvaluation.actual,
                ForecastEvaluation.inside_interval,
                ForecastEvaluation.direction_hit,
            ).join(ForecastEvaluation)
        ).all()
    return pd.DataFrame(rows, columns=[column for column in rows[0]._fields])


def test_accuracy_table_matches_hand_computed_values(filled):
    rows = scored(filled.sessions)
    with filled.sessions() as session:
        table = accuracy_table(session, key=KEY)
        assert accuracy_table(session, key=KEY, run_kind="backtest").empty
        assert accuracy_table(session, key=EMPTY).empty

    assert len(table) == 5 * HORIZON and table["model"].iloc[0] == "bilstm_gru"
    naive = rows[rows["model"] == "naive"]
    for (model, horizon), group in rows.groupby(["model", "horizon"]):
        got = table[(table["model"] == model) & (table["horizon"] == horizon)].iloc[0]
        error = group["actual"] - group["yhat"]
        pairs = group.merge(naive[naive["horizon"] == horizon], on="as_of", suffixes=("", "_naive"))
        inside = group["inside_interval"].dropna().astype(float)
        assert got["n"] == len(group) == 12
        assert got["mae"] == pytest.approx(error.abs().mean())
        assert got["rmse"] == pytest.approx(np.sqrt((error**2).mean()))
        assert got["mape_pct"] == pytest.approx(100 * (error.abs() / group["actual"]).mean())
        assert got["mae_vs_naive"] == pytest.approx(
            (pairs["actual"] - pairs["yhat"]).abs().mean() / (pairs["actual"] - pairs["yhat_naive"]).abs().mean()
        )
        assert got["coverage"] == pytest.approx(inside.mean())
    assert (table.loc[table["model"] == "naive", "mae_vs_naive"] == 1.0).all()
    assert table.loc[table["model"] == "naive", "direction_accuracy"].isna().all()  # naive calls no direction
    ours = table[table["model"] == "bilstm_gru"]
    assert ours["direction_accuracy"].between(0, 1).all() and ours["coverage"].between(0, 1).all()


def test_accuracy_table_takes_the_forecasts_of_an_as_of_range(filled):
    days = sorted(scored(filled.sessions)["as_of"].unique())
    first, last = days[2].date(), days[6].date()
    with filled.sessions() as session:
        table = accuracy_table(session, key=KEY, first_as_of=first, last_as_of=last)
    rows = scored(filled.sessions)
    made = rows["as_of"].map(lambda ts: ts.date())
    inside = rows[(made >= first) & (made <= last)]
    expected = inside.groupby(["model", "horizon"]).size()
    got = table.set_index(["model", "horizon"])["n"]
    assert got.sort_index().to_dict() == expected.sort_index().to_dict()
