"""What an operator relies on: failures on record, baselines without training, holes filled, logs that tell."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import select

from flows.daily import SeriesFailed, daily
from forecaster.db.engine import make_engine, session_factory
from forecaster.db.models import Forecast, Run
from forecaster.model.baselines import baseline_names
from tests.support.candles import LAST_DAY, window
from tests.support.tiny import params


def rows(url: str, query):
    engine = make_engine(url)
    with session_factory(engine)() as session:
        found = session.execute(query).all()
    engine.dispose()
    return found


def test_a_failed_training_still_writes_the_baselines(flow_env, exchange, btc):
    exchange.set_candles("NEW/USDT", window(btc).iloc[-20:])  # a new listing: too little history to train
    state = daily(**params("NEW/USDT"), api_url=exchange.url, return_state=True)
    assert state.is_failed() and "binance NEW/USDT 1d" in state.message
    written = rows(flow_env, select(Forecast.model).distinct().where(Forecast.symbol == "NEW/USDT"))
    assert sorted(model for (model,) in written) == sorted(baseline_names())
    # the model forecast stays owed: the next run plans the same day again
    again = daily(**params("NEW/USDT"), api_url=exchange.url, return_state=True)
    assert again.is_failed()
    (run,) = rows(flow_env, select(Run.summary).order_by(Run.id.desc()).limit(1))
    assert f"forecast days {LAST_DAY:%Y-%m-%d}" in run.summary or "NEW/USDT" in run.summary


def test_a_failed_run_raises_its_message_not_an_engine_error(flow_env, exchange):
    with pytest.raises(SeriesFailed, match="1 of 2 series failed: binance DOGE/USDT 1d"):
        daily(**params("BTC/USDT", "DOGE/USDT"), api_url=exchange.url)
    state = daily(**params("DOGE/USDT"), api_url=exchange.url, return_state=True)
    assert isinstance(state.result(raise_on_failure=False), SeriesFailed)


def test_refused_parameters_leave_a_failed_run_on_record(flow_env, exchange):
    state = daily(**params("BTC/USDT", catch_up_days=-1), api_url=exchange.url, return_state=True)
    assert state.is_failed()
    (run,) = rows(flow_env, select(Run.status, Run.summary, Run.flow_run_id))
    assert run.status == "failed" and "catch_up_days" in run.summary and run.flow_run_id


def test_a_publish_failure_does_not_leave_the_run_running(flow_env, exchange, tmp_path):
    reports = tmp_path / "data" / "reports"
    reports.parent.mkdir(parents=True)
    reports.write_text("a file where the reports folder should be")  # the chart cannot be written
    state = daily(**params("BTC/USDT"), api_url=exchange.url, return_state=True)
    assert state.is_completed(), state.message
    (run,) = rows(flow_env, select(Run.status, Run.summary, Run.finished_at))
    assert run.status == "completed" and run.finished_at is not None
    assert "artifacts not published" in run.summary


def test_a_run_a_killed_process_left_running_is_marked_crashed(flow_env, exchange):
    first = daily(**params("BTC/USDT"), api_url=exchange.url, return_state=True)
    engine = make_engine(flow_env)
    with session_factory(engine).begin() as session:
        # as a process killed mid-run leaves it: still "running", its flow run long over
        session.add(
            Run(
                trigger="scheduled",
                flow_run_id=str(first.state_details.flow_run_id),
                parameters={},
                manifest={},
                started_at=datetime.now(UTC),
                status="running",
            )
        )
        session.add(
            Run(
                trigger="scheduled",
                flow_run_id=str(uuid.uuid4()),
                parameters={},
                manifest={},
                started_at=datetime.now(UTC),
                status="running",
            )
        )
    engine.dispose()
    daily(**params("BTC/USDT"), api_url=exchange.url)
    statuses = rows(flow_env, select(Run.status).order_by(Run.id))
    assert [status for (status,) in statuses] == ["completed", "crashed", "crashed", "completed"]


def test_task_logs_tell_the_story(flow_env, exchange, caplog):
    caplog.set_level(logging.INFO)
    daily(**params("BTC/USDT"), api_url=exchange.url)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "database sqlite:///" in text or "database postgresql" in text
    assert "binance BTC/USDT 1d: 182 new, 0 updated; stored 2024-01-01..2024-06-30 (182)" in text
    assert f"owed {LAST_DAY:%Y-%m-%d}" in text
    assert "full (no parent model)" in text and "epochs" in text and "val loss" in text
    assert "wrote naive, drift, moving_average, garch, bilstm_gru; gate at horizon 1: no verdict (n = 0" in text
    assert "published forecast and summary artifacts" in text
    assert "password" not in text.lower()


def test_a_day_is_forecast_once_whatever_order_the_runs_come_in(flow_env, exchange):
    """A manual run of the newest day, then the scheduled one: the days between are caught up."""
    older = (LAST_DAY - pd.Timedelta(days=4)).date()
    daily(**params("BTC/USDT", as_of=older), api_url=exchange.url)
    daily(**params("BTC/USDT", catch_up_days=0), api_url=exchange.url)  # the newest day alone
    state = daily(**params("BTC/USDT"), api_url=exchange.url, return_state=True)
    assert state.result()["series"]["binance BTC/USDT 1d"]["days"] == [
        f"{LAST_DAY - pd.Timedelta(days=back):%Y-%m-%d}" for back in (3, 2, 1)
    ]
