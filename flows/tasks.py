"""Prefect tasks: each one step of the job that does I/O, over the library."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime
from typing import Any

from prefect import get_run_logger, task
from prefect.client.schemas.objects import TaskRun
from prefect.concurrency.sync import concurrency
from prefect.states import State
from prefect.tasks import Task, exponential_backoff
from sqlalchemy.exc import OperationalError

from flows.resources import sessions, settings, torch_threads
from forecaster.config import Settings
from forecaster.errors import DatabaseUnavailable, ExchangeUnavailable
from forecaster.exchange.client import make_exchange
from forecaster.ingest.service import IngestSummary, ingest_from_exchange
from forecaster.pipeline.config import JobConfig, TrainMode
from forecaster.pipeline.evaluate import evaluate_step
from forecaster.pipeline.forecast import ForecastOutcome, forecast_step
from forecaster.pipeline.plan import days_to_forecast, newest_day
from forecaster.pipeline.runs import finish_run, start_run
from forecaster.pipeline.train import TrainOutcome, train_step
from forecaster.series import SeriesKey

TRANSIENT = (ExchangeUnavailable, DatabaseUnavailable, OperationalError)


def transient_only(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry a task only when it failed on a transient error (network, database connection)."""
    return isinstance(state.result(raise_on_failure=False), TRANSIENT)


def io_retries(delay_s: float) -> dict[str, Any]:
    """On top of the per-request retries inside the library: a step that still failed on a transient error
    (an exchange or database outage longer than those) runs again after ``delay_s``, then twice that.

    Tasks are declared with the default delay; a flow applies ``FORECASTER_TASK_RETRY_DELAY_S`` with
    ``task.with_options(**io_retries(settings.task_retry_delay_s))``."""
    return {
        "retries": 2,
        "retry_delay_seconds": exponential_backoff(backoff_factor=delay_s)(2),
        "retry_jitter_factor": 0.5,
        "retry_condition_fn": transient_only,
    }


IO_RETRIES = io_retries(Settings.model_fields["task_retry_delay_s"].default)


def exchange_limit(exchange: str) -> str:
    return f"forecaster-exchange-{exchange}"


@task(name="start run")
def start_run_task(trigger: str, parameters: dict[str, Any], as_of: datetime | None, flow_run_id: str | None) -> int:
    return start_run(sessions(), trigger, parameters=parameters, as_of=as_of, flow_run_id=flow_run_id)


@task(name="reap runs")
def reap_runs_task() -> list[int]:
    """Runs a killed process left ``running`` are marked ``crashed``."""
    from flows.runs import reap_crashed_runs

    crashed = reap_crashed_runs()
    if crashed:
        get_run_logger().warning("runs %s were left running by a process that died: marked crashed", crashed)
    return crashed


@task(name="finish run", **IO_RETRIES)  # idempotent: a dropped connection must not leave the run "running"
def finish_run_task(run_id: int, status: str, summary: str, pairs: list[SeriesKey] | None = None) -> None:
    """Record the outcome; a run started without an as-of day records the one it used (its pairs' newest candle)."""
    factory = sessions()
    as_of = newest_day(factory, pairs) if pairs else None
    finish_run(factory, run_id, status, summary, as_of=as_of)


@task(name="ingest", task_run_name="ingest {pair}", **IO_RETRIES)
def ingest_task(
    pair: SeriesKey, api_url: str | None, exchange_concurrency: int, run_id: int | None = None
) -> IngestSummary:
    """New closed candles of one series, recorded as run ``run_id``'s; ingests from one exchange share its
    concurrency limit (0: none)."""
    exchange_id = "binance" if pair.exchange == "demo" else pair.exchange
    with ExitStack() as stack:
        if exchange_concurrency:
            stack.enter_context(concurrency(exchange_limit(pair.exchange), occupy=1, strict=False))
        config = settings()
        client = make_exchange(exchange_id, api_url or config.exchange_api_url, config.exchange)
        summary = ingest_from_exchange(client, sessions(), pair, policy=config.retry_policy, run_id=run_id)
    get_run_logger().info("%s", summary.line())
    return summary


@task(name="evaluate", task_run_name="evaluate {pair}", **IO_RETRIES)
def evaluate_task(pair: SeriesKey) -> int:
    scored = evaluate_step(sessions(), pair)
    get_run_logger().info("%s: %d forecasts scored against their arrived candles", pair, scored)
    return scored


@task(name="plan", task_run_name="plan {pair}", **IO_RETRIES)
def plan_task(pair: SeriesKey, as_of: datetime | None, catch_up_days: int, run_kind: str) -> list[datetime]:
    days = days_to_forecast(sessions(), pair, as_of, catch_up_days, run_kind)
    owed = ", ".join(f"{day:%Y-%m-%d}" for day in days) or "nothing (every forecast set is complete)"
    get_run_logger().info("%s: owed %s", pair, owed)
    return days


@task(name="train", task_run_name="train {pair} {as_of:%Y-%m-%d}", **IO_RETRIES)
def train_task(pair: SeriesKey, as_of: datetime, mode: TrainMode, job: JobConfig, run_id: int | None) -> TrainOutcome:
    torch_threads()
    outcome = train_step(sessions(), pair, as_of, mode, job, settings().checkpoint_dir, run_id=run_id)
    get_run_logger().info("%s", outcome.line(pair))
    return outcome


@task(name="forecast", task_run_name="forecast {pair} {as_of:%Y-%m-%d}", **IO_RETRIES)
def forecast_task(
    pair: SeriesKey, as_of: datetime, job: JobConfig, run_id: int | None, trained: Any = None
) -> ForecastOutcome:
    """The forecast set of one day. ``trained`` is the day's training outcome, or its error when it failed:
    then only the baselines are written, and the model stays owed to the next run."""
    torch_threads()
    with_model = not isinstance(trained, BaseException)
    outcome = forecast_step(
        sessions(), pair, as_of, job, run_id=run_id, with_model=with_model, checkpoint_dir=settings().checkpoint_dir
    )
    get_run_logger().info("%s", outcome.line(pair, as_of))
    return outcome
