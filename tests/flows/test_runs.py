"""Lineage (observation 6): an ingest names its run, a run says who started it and which day it used.

The daily and backtest flows are checked end to end in tests/flows/test_daily.py.
"""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
from prefect.client.schemas.objects import FlowRun
from sqlalchemy import select

from flows.runs import run_trigger, trigger_of
from forecaster.db.models import IngestRun, Run
from forecaster.exchange.client import make_exchange
from forecaster.exchange.loopback import LoopbackExchange
from forecaster.exchange.retry import RetryPolicy
from forecaster.ingest.service import ingest_from_exchange
from forecaster.pipeline.plan import newest_day
from forecaster.pipeline.runs import finish_run, start_run
from forecaster.series import SeriesKey
from tests.support.candles import store_candles

KEY = SeriesKey("binance", "BTC/USDT", "1d")


def test_an_ingest_records_the_run_that_made_it(btc, sessions):
    frame = btc.iloc[:40].reset_index(drop=True)
    run_id = start_run(sessions, "scheduled", parameters={})
    now = (frame["ts"].iloc[-1] + pd.Timedelta(days=1, minutes=10)).to_pydatetime()  # the last candle has closed
    with LoopbackExchange({"BTC/USDT": frame}, now=now) as server:
        client = make_exchange("binance", server.url)
        policy = RetryPolicy(attempts=2, initial_delay_s=0.01, max_delay_s=0.02)
        ingest_from_exchange(client, sessions, KEY, policy=policy, run_id=run_id)
        ingest_from_exchange(client, sessions, KEY, policy=policy)  # the CLI's: no run
    with sessions() as session:
        linked = session.scalars(select(IngestRun.run_id).order_by(IngestRun.id)).all()
    assert linked == [run_id, None]


def test_a_run_says_who_started_it_and_which_day_it_used(btc, sessions):
    store_candles(sessions, KEY, btc.iloc[:30])
    newest = btc["ts"].iloc[29].to_pydatetime()
    assert newest_day(sessions, [KEY, SeriesKey("binance", "NONE/USDT", "1d")]) == newest

    asked = btc["ts"].iloc[10].to_pydatetime()
    scheduled = start_run(sessions, "scheduled", parameters={})
    manual = start_run(sessions, "manual", parameters={}, as_of=asked)
    finish_run(sessions, scheduled, "completed", "ok", as_of=newest_day(sessions, [KEY]))
    finish_run(sessions, manual, "completed", "ok", as_of=newest_day(sessions, [KEY]))
    with sessions() as session:
        runs = {run.id: (run.trigger, run.as_of) for run in session.scalars(select(Run))}
    assert runs == {scheduled: ("scheduled", newest), manual: ("manual", asked)}  # a day asked for stays
    with pytest.raises(ValueError, match="unknown run trigger 'daily'"):
        start_run(sessions, "daily", parameters={})


def test_the_trigger_comes_from_prefect():
    flow_id = uuid.uuid4()
    deployment_id = uuid.uuid4()
    scheduled = FlowRun(flow_id=flow_id, deployment_id=deployment_id, auto_scheduled=True)
    assert trigger_of(scheduled) == "scheduled"  # made by its deployment's schedule
    assert trigger_of(FlowRun(flow_id=flow_id, deployment_id=deployment_id)) == "manual"  # a deployment run by hand
    assert trigger_of(FlowRun(flow_id=flow_id)) == "cli"  # the flow called directly: forecaster run, a script
    assert trigger_of(None) == "cli"
    assert run_trigger() == "cli"  # outside a flow run
