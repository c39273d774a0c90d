"""The result views over a database filled by the job's own steps: accuracy by model and horizon, the newest
forecasts and their naive gate, checked against values computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select, text

from forecaster.db.models import Forecast, ForecastEvaluation
from forecaster.model.baselines import baseline_names

MODELS = ("bilstm_gru", *baseline_names())  # every model of a forecast set


def test_views_match_hand_computed_aggregates(filled):
    with filled.sessions() as session:
        rows = pd.DataFrame(
            session.execute(
                select(
                    Forecast.model,
                    Forecast.horizon,
                    Forecast.as_of,
                    ForecastEvaluation.error,
                    ForecastEvaluation.abs_error,
                    ForecastEvaluation.ape,
                    ForecastEvaluation.inside_interval,
                ).join(ForecastEvaluation)
            ).all()
        )
        view = pd.DataFrame(
            session.execute(text("SELECT * FROM forecast_accuracy WHERE run_kind = 'live'")).mappings().all()
        )
        latest = pd.DataFrame(session.execute(text("SELECT * FROM latest_forecasts")).mappings().all())

    for (model, horizon), group in rows.groupby(["model", "horizon"]):
        got = view[(view["model"] == model) & (view["horizon"] == horizon)].iloc[0]
        naive = rows[(rows["model"] == "naive") & (rows["horizon"] == horizon)].set_index("as_of")
        paired = group.set_index("as_of").join(naive["abs_error"], rsuffix="_naive", how="inner")
        assert got["n"] == len(group)
        assert got["mae"] == pytest.approx(group["abs_error"].mean())
        assert got["rmse"] == pytest.approx(np.sqrt((group["error"] ** 2).mean()))
        assert got["mape_pct"] == pytest.approx(100 * group["ape"].mean())
        assert got["mae_vs_naive"] == pytest.approx(paired["abs_error"].mean() / paired["abs_error_naive"].mean())
        assert got["coverage"] == pytest.approx(group["inside_interval"].astype(float).mean())
    assert len(latest) == len(MODELS) * 3
    assert set(pd.to_datetime(latest["as_of"], utc=True)) == {pd.Timestamp(filled.as_of)}

    # with enough scored pairs, the newest model forecasts carry the naive gate
    gated = latest[latest["model"] == "bilstm_gru"]
    assert gated["gate_n"].notna().all() and (gated["gate_n"] >= 5).all()
    assert gated["gate_mae_ratio"].notna().all()
