"""Prefect tasks: each one step of the job that does I/O, over the library."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime
from typing import Any

from prefect import task
from prefect.client.schemas.objects import TaskRun
from prefect.concurrency.sync import concurrency
from prefect.states import State
from prefect.tasks import Task, exponential_backoff
from sqlalchemy.exc import OperationalError

from flows.params import Pair
from flows.resources import sessions, settings, torch_threads
from forecaster.errors import DatabaseUnavailable, ExchangeUnavailable
from forecaster.exchange.client import make_exchange
from forecaster.ingest.service import IngestSummary, ingest_from_exchange
from forecaster.pipeline.config import JobConfig, TrainMode
from forecaster.pipeline.evaluate import evaluate_step
from forecaster.pipeline.forecast import ForecastOutcome, forecast_step
from forecaster.pipeline.plan import days_to_forecast
from forecaster.pipeline.runs import finish_run, start_run
from forecaster.pipeline.train import TrainOutcome, train_step

TRANSIENT = (ExchangeUnavailable, DatabaseUnavailable, OperationalError)


def transient_only(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry a task only when it failed on a transient error (network, database connection)."""
    return isinstance(state.result(raise_on_failure=False), TRANSIENT)


# On top of the per-request retries inside the library: a step that still failed on a transient error
# (an exchange or database outage longer than those) runs again after FORECASTER_TASK_RETRY_DELAY_S, then x2.
IO_RETRIES: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": exponential_backoff(backoff_factor=settings().task_retry_delay_s),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": transient_only,
}


def exchange_limit(exchange: str) -> str:
    return f"forecaster-exchange-{exchange}"


@task(name="start run")
def start_run_task(kind: str, parameters: dict[str, Any], as_of: datetime | None, flow_run_id: str | None) -> int:
    return start_run(sessions(), kind, parameters=parameters, as_of=as_of, flow_run_id=flow_run_id)


@task(name="finish run", **IO_RETRIES)  # idempotent: a dropped connection must not leave the run "running"
def finish_run_task(run_id: int, status: str, summary: str) -> None:
    finish_run(sessions(), run_id, status, summary)


@task(name="ingest", task_run_name="ingest {pair}", **IO_RETRIES)
def ingest_task(pair: Pair, api_url: str | None, exchange_concurrency: int) -> IngestSummary:
    """New closed candles of one series; ingests from one exchange share its concurrency limit (0: none)."""
    exchange_id = "binance" if pair.exchange == "demo" else pair.exchange
    with ExitStack() as stack:
        if exchange_concurrency:
            stack.enter_context(concurrency(exchange_limit(pair.exchange), occupy=1, strict=False))
        client = make_exchange(exchange_id, api_url)
        return ingest_from_exchange(client, sessions(), pair.key)


@task(name="evaluate", task_run_name="evaluate {pair}", **IO_RETRIES)
def evaluate_task(pair: Pair) -> int:
    return evaluate_step(sessions(), pair.key)


@task(name="plan", task_run_name="plan {pair}", **IO_RETRIES)
def plan_task(pair: Pair, as_of: datetime | None, catch_up_days: int, run_kind: str) -> list[datetime]:
    return days_to_forecast(sessions(), pair.key, as_of, catch_up_days, run_kind)


@task(name="train", task_run_name="train {pair} {as_of:%Y-%m-%d}", **IO_RETRIES)
def train_task(pair: Pair, as_of: datetime, mode: TrainMode, job: JobConfig, run_id: int | None) -> TrainOutcome:
    torch_threads()
    return train_step(sessions(), pair.key, as_of, mode, job, settings().checkpoint_dir, run_id=run_id)


@task(name="forecast", task_run_name="forecast {pair} {as_of:%Y-%m-%d}", **IO_RETRIES)
def forecast_task(pair: Pair, as_of: datetime, job: JobConfig, run_id: int | None) -> ForecastOutcome:
    torch_threads()
    return forecast_step(sessions(), pair.key, as_of, job, run_id=run_id)
