"""Scale-out: the daily flow on a local two-worker Dask cluster writes the same rows."""

from __future__ import annotations

import pandas as pd
import pytest
from prefect_dask import DaskTaskRunner
from sqlalchemy import select

from flows.daily import daily
from forecaster.db.engine import make_engine, session_factory
from forecaster.db.migrate import upgrade
from forecaster.db.models import Candle, Forecast
from tests.support.tiny import params


def rows(url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        forecasts = pd.DataFrame(
            session.execute(
                select(
                    Forecast.model,
                    Forecast.symbol,
                    Forecast.as_of,
                    Forecast.horizon,
                    Forecast.yhat,
                    Forecast.yhat_lower,
                    Forecast.yhat_upper,
                )
            ).all()
        ).sort_values(["symbol", "model", "horizon"], ignore_index=True)
        candles = pd.DataFrame(session.execute(select(Candle.symbol, Candle.ts, Candle.close)).all()).sort_values(
            ["symbol", "ts"], ignore_index=True
        )
    engine.dispose()
    return forecasts, candles


@pytest.mark.slow  # starts a local Dask cluster of two worker processes
@pytest.mark.timeout(300)
def test_dask_runner_gives_the_same_rows_as_the_default_runner(exchange, tmp_path, monkeypatch):
    results = []
    for name, runner in [
        ("default", None),
        ("dask", DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "processes": True})),
    ]:
        url = f"sqlite:///{tmp_path / name}.db"
        upgrade(make_engine(url))
        monkeypatch.setenv("FORECASTER_DATABASE_URL", url)  # set before the cluster starts: workers inherit it
        monkeypatch.setenv("FORECASTER_DATA_DIR", str(tmp_path / name))
        flow = daily if runner is None else daily.with_options(task_runner=runner)
        state = flow(**params("BTC/USDT", "ETH/USDT"), api_url=exchange.url, return_state=True)
        assert state.is_completed(), state.message
        results.append(rows(url))
    (forecasts, candles), (dask_forecasts, dask_candles) = results
    assert len(forecasts) == 2 * 5 * 3
    pd.testing.assert_frame_equal(candles, dask_candles)
    pd.testing.assert_frame_equal(forecasts, dask_forecasts, rtol=1e-9)
