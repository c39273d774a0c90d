"""The naive gate is a function of the scores, not of the order the database returns them in (observation 7).

Forecasts are written in a shuffled as-of order. Without ``ORDER BY`` the pairs came back in whatever
order the plan gave: on these small tables SQLite's index happens to give as-of order, while
PostgreSQL scanning the tables in storage order (as it may for bigger ones; forced here) gives the
insertion order, and with it another Diebold-Mariano p-value at horizon 3.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select, text

from forecaster.db.models import Forecast, ForecastEvaluation
from forecaster.model.metrics import diebold_mariano
from forecaster.results.forecasts import MODEL, forecast_rows, write_forecasts
from forecaster.results.gate import GateConfig, naive_gate
from forecaster.series import SeriesKey

KEY = SeriesKey("binance", "BTC/USDT", "1d")
FIRST = datetime(2024, 3, 1, tzinfo=UTC)
DAYS, HORIZON = 40, 3
CONFIG = GateConfig(window_days=90, min_pairs=20)


def errors() -> dict[str, np.ndarray]:
    """Absolute errors per as-of day, the model's autocorrelated (as overlapping h-day forecasts are)."""
    rng = np.random.default_rng(7)
    model = np.empty(DAYS)
    model[0] = 1.0
    for i in range(1, DAYS):
        model[i] = 0.8 * model[i - 1] + rng.normal(0, 1)
    return {MODEL: np.abs(model) * 100, "naive": np.abs(rng.normal(0, 1.2, DAYS)) * 100}


def write_scored(sessions, order: list[int]) -> None:
    """Forecasts of the model and naive (horizon ``HORIZON`` only) and their scores, as-of days in ``order``."""
    found = errors()
    for i in order:
        day = FIRST + timedelta(days=i)
        frame = pd.DataFrame({"horizon": [HORIZON], "target_ts": [day + timedelta(days=HORIZON)], "yhat": [100.0]})
        with sessions.begin() as session:
            for model, error in ((MODEL, found[MODEL][i]), ("naive", found["naive"][i])):
                write_forecasts(
                    session,
                    forecast_rows(
                        frame, model=model, key=KEY, as_of=day, run_id=None, run_kind="live", interval_level=0.8
                    ),
                )
                forecast_id = session.scalars(
                    select(Forecast.id).where(Forecast.model == model, Forecast.as_of == day)
                ).one()
                session.add(
                    ForecastEvaluation(
                        forecast_id=forecast_id,
                        actual=100.0 + error,
                        error=error,
                        abs_error=error,
                        ape=error / (100.0 + error),
                        direction_hit=None,
                        inside_interval=None,
                        evaluated_at=day + timedelta(days=HORIZON),
                    )
                )


@pytest.mark.parametrize("seed", [1, 2])
def test_gate_pairs_are_taken_in_as_of_order_whatever_the_insertion_order(sessions, seed):
    order = list(np.random.default_rng(seed).permutation(DAYS))
    write_scored(sessions, [int(i) for i in order])
    as_of = FIRST + timedelta(days=DAYS - 1 + HORIZON)
    with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            # another plan the database may choose (a bigger table, other statistics): scans in storage order
            session.execute(text("SET LOCAL enable_indexscan = off"))
            session.execute(text("SET LOCAL enable_bitmapscan = off"))
        gate = naive_gate(session, KEY, as_of, "live", MODEL, CONFIG)[HORIZON]
    found = errors()
    _, expected = diebold_mariano(found[MODEL], found["naive"], HORIZON, loss="absolute")
    shuffled = np.array(order)
    _, as_inserted = diebold_mariano(found[MODEL][shuffled], found["naive"][shuffled], HORIZON, loss="absolute")
    assert abs(as_inserted - expected) > 1e-3  # the order matters at horizon 3: the test can tell
    assert gate.n == DAYS and gate.pvalue == pytest.approx(expected, rel=1e-12)
    assert gate.mae_ratio == pytest.approx(found[MODEL].mean() / found["naive"].mean(), rel=1e-12)
