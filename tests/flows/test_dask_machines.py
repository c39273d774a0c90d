"""Scale-out over machines: a model trained on one Dask worker forecasts on another that shares nothing
with it but the database (each worker process has a data dir of its own; the trainer's is wiped)."""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import pandas as pd
import pytest
from distributed import Client, Nanny, Scheduler, SpecCluster
from prefect import flow
from prefect_dask import DaskTaskRunner
from sqlalchemy import select

from flows.tasks import forecast_task, train_task
from forecaster.db.engine import make_engine, session_factory
from forecaster.db.models import Forecast, ModelVersion
from forecaster.exchange.synthetic import synthetic_candles
from forecaster.model.baselines import baseline_names
from forecaster.results.forecasts import MODEL
from forecaster.series import SeriesKey
from tests.support.candles import store_candles
from tests.support.tiny import TINY_JOB

TRAINER, FORECASTER = "trainer", "forecaster"
PAIR = SeriesKey("binance", "BTC/USDT")
DAY1, DAY2 = pd.Timestamp("2024-06-29", tz="UTC"), pd.Timestamp("2024-06-30", tz="UTC")

pytestmark = pytest.mark.slow  # a local Dask cluster of two worker processes


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Path]]]:
    """Two single-threaded worker processes, each started with a FORECASTER_DATA_DIR of its own."""
    dirs = {name: tmp_path_factory.mktemp(name) for name in (TRAINER, FORECASTER)}
    workers = {
        name: {"cls": Nanny, "options": {"nthreads": 1, "env": {"FORECASTER_DATA_DIR": str(folder)}}}
        for name, folder in dirs.items()
    }
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": ":0"}}
    with SpecCluster(workers=workers, scheduler=scheduler) as spec, Client(spec) as client:
        client.run(importlib.import_module, "flows.tasks")  # both import torch and Prefect at once, not in turn
        yield spec.scheduler_address, dirs


@pytest.fixture
def machines(cluster: tuple[str, dict[str, Path]], database_url: str) -> Iterator[tuple[str, dict[str, Path]]]:
    """The cluster's workers, both reaching this test's database, their data dirs empty."""
    address, dirs = cluster

    def set_env(name: str, value: str) -> None:  # a closure: sent by value, never importing this module there
        os.environ[name] = value

    for folder in dirs.values():
        shutil.rmtree(folder, ignore_errors=True)
    with Client(address) as client:
        client.run(set_env, "FORECASTER_DATABASE_URL", database_url)
        yield address, dirs


@flow(name="train here, forecast there")
def train_here_forecast_there(trainer_dir: str) -> list[Any]:
    """Day 1: a full retrain on the trainer, whose disk is then wiped, and the forecast on the other worker.
    Day 2: the trainer fine-tunes day 1's model (its parent comes from the database), the other forecasts."""
    with dask.annotate(workers=[TRAINER]):
        first = train_task.submit(PAIR, DAY1.to_pydatetime(), "full", TINY_JOB, None)
    first.wait()
    shutil.rmtree(trainer_dir)  # nothing the trainer wrote reaches the other machine
    with dask.annotate(workers=[FORECASTER]):
        forecast_1 = forecast_task.submit(PAIR, DAY1.to_pydatetime(), TINY_JOB, None, wait_for=[first])
    with dask.annotate(workers=[TRAINER]):
        second = train_task.submit(PAIR, DAY2.to_pydatetime(), "finetune", TINY_JOB, None, wait_for=[forecast_1])
    with dask.annotate(workers=[FORECASTER]):
        forecast_2 = forecast_task.submit(PAIR, DAY2.to_pydatetime(), TINY_JOB, None, wait_for=[second])
    return [future.result() for future in (first, forecast_1, second, forecast_2)]


@pytest.mark.timeout(300)
def test_a_model_trained_on_one_worker_forecasts_on_another(prefect_server, machines, database_url):
    address, dirs = machines
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    store_candles(sessions, PAIR, synthetic_candles(PAIR.symbol, "2024-01-01", DAY2))

    runner = DaskTaskRunner(address=address)
    first, forecast_1, second, forecast_2 = train_here_forecast_there.with_options(task_runner=runner)(
        str(dirs[TRAINER])
    )

    assert first.trained and second.trained and second.mode == "finetune"
    assert MODEL in forecast_1.written and MODEL in forecast_2.written, (forecast_1, forecast_2)
    baseline_notes = tuple(f"{name}: " for name in baseline_names())  # e.g. garch's fallback on 120 days
    assert not [
        problem for problem in forecast_1.problems + forecast_2.problems if not problem.startswith(baseline_notes)
    ]
    with sessions() as session:
        versions = {version.train_end: version for version in session.scalars(select(ModelVersion))}
        query = select(Forecast.as_of, Forecast.model_version_id).where(Forecast.model == MODEL)
        used = dict(session.execute(query).tuples().all())
    v1, v2 = versions[DAY1.to_pydatetime()], versions[DAY2.to_pydatetime()]
    assert v2.parent_id == v1.id and used == {DAY1.to_pydatetime(): v1.id, DAY2.to_pydatetime(): v2.id}
    cached = {name: sorted(p.name for p in (folder / "checkpoints").rglob("*.ckpt")) for name, folder in dirs.items()}
    # each machine's cache holds what it used: the forecaster fetched both versions from the database,
    # the trainer (wiped after day 1) fetched day 1's as the parent and wrote day 2's
    both = sorted(Path(version.checkpoint_path).name for version in (v1, v2))
    assert cached == {FORECASTER: both, TRAINER: both}
    engine.dispose()
