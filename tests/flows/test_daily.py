"""The daily flow end to end under a real Prefect server, on the loopback exchange."""

from __future__ import annotations

import json

import pandas as pd
from prefect.client.orchestration import get_client
from sqlalchemy import func, select

from flows.daily import daily
from forecaster.db.engine import make_engine, session_factory
from forecaster.db.models import Candle, Forecast, ForecastEvaluation, IngestRun, ModelVersion, Run
from tests.support.candles import LAST_DAY, clock_after
from tests.support.tiny import params

TABLES = (Candle, ModelVersion, Forecast, ForecastEvaluation, Run)


def counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        found = {table.__tablename__: session.scalar(select(func.count()).select_from(table)) or 0 for table in TABLES}
    engine.dispose()
    return found


def test_daily_fills_everything_then_scores_matured_forecasts(flow_env, exchange, btc):
    state = daily(**params("BTC/USDT", "ETH/USDT"), api_url=exchange.url, return_state=True)
    assert state.is_completed(), state.message
    first = counts(flow_env)
    assert first["candles"] == 2 * 182 and first["model_versions"] == 2
    assert first["forecasts"] == 2 * 5 * 3  # 2 symbols x (model + 4 baselines) x 3 horizons
    assert first["forecast_errors"] == 0

    # the same day again adds nothing but its own run record
    again = daily(**params("BTC/USDT", "ETH/USDT"), api_url=exchange.url, return_state=True)
    assert again.is_completed()
    assert counts(flow_env) == first | {"runs": first["runs"] + 1}

    # the exchange gains the next day: horizon-1 forecasts mature and are scored
    next_day = btc[btc["ts"] == LAST_DAY + pd.Timedelta(days=1)]
    exchange.extend("BTC/USDT", next_day)
    exchange.set_clock(clock_after(LAST_DAY + pd.Timedelta(days=1)))
    third = daily(**params("BTC/USDT"), api_url=exchange.url, return_state=True)
    assert third.is_completed(), third.message
    engine = make_engine(flow_env)
    with session_factory(engine)() as session:
        scored = session.execute(
            select(Forecast.model, Forecast.horizon).join(ForecastEvaluation).where(Forecast.symbol == "BTC/USDT")
        ).all()
        versions = session.scalars(select(ModelVersion.mode).where(ModelVersion.symbol == "BTC/USDT")).all()
    engine.dispose()
    assert sorted(scored) == sorted((model, 1) for model in ("bilstm_gru", "naive", "drift", "moving_average", "garch"))
    assert versions == ["full", "finetune"]


def test_one_unknown_symbol_fails_alone_and_is_named(flow_env, exchange):
    state = daily(**params("BTC/USDT", "DOGE/USDT"), api_url=exchange.url, return_state=True)
    assert state.is_failed()
    assert "1 of 2 series failed" in state.message and "binance DOGE/USDT 1d" in state.message
    assert "unknown symbol 'DOGE/USDT'" in state.message
    engine = make_engine(flow_env)
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Forecast).where(Forecast.symbol == "BTC/USDT")) == 15
        run = session.scalars(select(Run)).one()
        ingests = session.scalars(select(IngestRun.symbol)).all()
    engine.dispose()
    assert run.status == "failed" and "FAILED binance DOGE/USDT 1d" in run.summary
    assert ingests == ["BTC/USDT"]  # the unknown symbol was refused before any write


def test_missed_days_are_caught_up(flow_env, exchange, btc):
    asked = LAST_DAY - pd.Timedelta(days=3)
    daily(**params("BTC/USDT", as_of=asked.date()), api_url=exchange.url)
    state = daily(**params("BTC/USDT"), api_url=exchange.url, return_state=True)
    assert state.is_completed()
    assert state.result()["series"]["binance BTC/USDT 1d"]["days"] == ["2024-06-28", "2024-06-29", "2024-06-30"]
    engine = make_engine(flow_env)
    with session_factory(engine)() as session:
        days = session.scalars(select(Forecast.as_of).distinct().order_by(Forecast.as_of)).all()
        runs = session.execute(select(Run.id, Run.trigger, Run.as_of).order_by(Run.id)).all()
        ingests = session.scalars(select(IngestRun.run_id).order_by(IngestRun.id)).all()
    engine.dispose()
    assert [f"{day:%m-%d}" for day in days] == ["06-27", "06-28", "06-29", "06-30"]
    # lineage: the flow called directly is a cli run; the second used the newest day; each ingest names its run
    assert [(trigger, as_of) for _, trigger, as_of in runs] == [("cli", asked), ("cli", LAST_DAY)]
    assert ingests == [run_id for run_id, *_ in runs]


def test_artifacts_are_published(flow_env, exchange, tmp_path):
    state = daily(**params("BTC/USDT"), api_url=exchange.url, return_state=True)
    assert state.is_completed()
    run_id = state.result()["run_id"]
    with get_client(sync_client=True) as client:
        made = [
            artifact for artifact in client.read_artifacts() if artifact.flow_run_id == state.state_details.flow_run_id
        ]
    artifacts = {artifact.key: artifact for artifact in made}
    # stable keys per series: the latest state is always at the same key
    assert {"forecast-binance-btc-usdt-1d", "summary-binance-btc-usdt-1d"} <= set(artifacts)
    table = artifacts["forecast-binance-btc-usdt-1d"]
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert [row["horizon"] for row in rows] == [1, 2, 3]  # one row per horizon
    assert {"target day", "model", "forecast", "interval", "naive", "gate"} <= set(rows[0])
    assert f"run {run_id}" in table.description
    summary = artifacts["summary-binance-btc-usdt-1d"].data
    assert "](data:image/png;base64,iVBOR" in summary  # the chart itself, not a path on the worker
    assert "too few scored bilstm_gru forecasts" in summary or "Nothing scored yet" in summary
    assert (tmp_path / "data" / "reports" / "binance_BTC-USDT_1d.png").stat().st_size > 10_000


def test_backtest_flow_reports_each_series(flow_env, exchange):
    from flows.backtest import backtest
    from tests.support.tiny import TINY_JOB

    exchange_params = params("BTC/USDT", "ETH/USDT")
    daily(**exchange_params, api_url=exchange.url)  # ingest the candles
    start, end = (LAST_DAY - pd.Timedelta(days=4)).date(), LAST_DAY.date()
    state = backtest(
        pairs=exchange_params["pairs"],
        start=start,
        end=end,
        retrain_every=7,
        horizon=3,
        job=TINY_JOB,
        return_state=True,
    )
    assert state.is_completed(), state.message
    assert state.result()["summary"].count("5 days run") == 2
    engine = make_engine(flow_env)
    with session_factory(engine)() as session:
        backtested = session.scalar(select(func.count()).select_from(Forecast).where(Forecast.run_kind == "backtest"))
        run = session.scalars(select(Run).where(Run.trigger == "backtest")).one()
    engine.dispose()
    assert backtested == 2 * 5 * 5 * 3 and run.status == "completed" and run.as_of == LAST_DAY
    with get_client(sync_client=True) as client:
        made = [
            artifact for artifact in client.read_artifacts() if artifact.flow_run_id == state.state_details.flow_run_id
        ]
    artifacts = {artifact.key: artifact.data for artifact in made}
    assert {"backtest-binance-btc-usdt-1d", "backtest-binance-eth-usdt-1d"} <= set(artifacts)
    report = artifacts["backtest-binance-btc-usdt-1d"]
    assert "## Calibration of the intervals" in report and "| model | horizon | nominal | all | calm |" in report
    assert report.count("](data:image/png;base64,iVBOR") == 2  # forecasts and calibration (too few days to roll)


def test_ingests_hold_the_exchange_concurrency_limit(flow_env, exchange):
    state = daily(**params("BTC/USDT", "ETH/USDT", exchange_concurrency=1), api_url=exchange.url, return_state=True)
    assert state.is_completed(), state.message
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name("forecaster-exchange-binance")
    assert limit.limit == 1 and limit.active_slots == 0  # created by the run, every slot given back
