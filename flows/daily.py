"""The daily job: for each series, ingest -> evaluate -> plan -> (train -> forecast -> evaluate) per owed day.

Each series is its own chain of task futures, so the series run concurrently through the task
runner and one failing series does not stop the others; the run ends Failed, naming them. A day
whose training failed still gets its baselines; the plan owes its model forecast to the next run.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect import flow, get_client, get_run_logger
from prefect.futures import PrefectFuture, wait
from prefect.runtime import deployment, flow_run
from prefect.states import Completed, Failed, State
from prefect.utilities.annotations import allow_failure
from pydantic import TypeAdapter

from flows.params import AsOf, CatchUpDays, ExchangeConcurrency, Pairs, check_day, check_pairs
from flows.publish import publish_task
from flows.resources import check_worker_settings, settings, torch_threads
from flows.retention import prune_task
from flows.runs import record_unfinished_run, run_trigger
from flows.tasks import (
    evaluate_task,
    exchange_limit,
    finish_run_task,
    forecast_task,
    ingest_task,
    io_retries,
    plan_task,
    reap_runs_task,
    start_run_task,
    train_task,
)
from forecaster.dates import day_start
from forecaster.errors import ForecasterError
from forecaster.exchange.synthetic import demo_exchange
from forecaster.pipeline.config import JobConfig, TrainMode
from forecaster.series import DEMO, SeriesKey


class SeriesFailed(ForecasterError):
    """Some series of a run failed: the run's one-line outcome."""


@dataclass
class SeriesResult:
    pair: SeriesKey
    days: list[str] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)


@flow(name="daily", log_prints=True, on_failure=[record_unfinished_run], on_crashed=[record_unfinished_run])
def daily(
    pairs: Pairs,
    as_of: AsOf = None,
    train_mode: TrainMode = "auto",
    catch_up_days: CatchUpDays = 7,
    exchange_concurrency: ExchangeConcurrency = None,
    job: JobConfig = JobConfig(),
    api_url: str | None = None,
) -> State[Any]:
    """Run the daily job once for every series in ``pairs``.

    ``api_url`` overrides the exchanges' API host (sandboxes, proxies, tests); the ``demo``
    exchange is served by a loopback server started for this run.
    """
    check_pairs(pairs)
    check_day(as_of, "as_of")
    config = settings()
    if deployment.get_id() is not None:
        check_worker_settings(config)
    torch_threads()
    logger = get_run_logger()
    logger.info("database %s, data directory %s", config.safe_database_url, config.data_dir.resolve())
    day = day_start(as_of) if as_of else None
    parameters = {"pairs": pairs, "as_of": as_of, "train_mode": train_mode, "catch_up_days": catch_up_days, "job": job}
    reap_runs_task()
    run_id = start_run_task(run_trigger(), _jsonable(parameters), day, flow_run.get_id())
    results = [SeriesResult(pair) for pair in pairs]
    try:
        steps = _Steps.with_retry_delay(config.task_retry_delay_s)
        slots = config.exchange_concurrency if exchange_concurrency is None else exchange_concurrency
        if slots:
            _ensure_exchange_limits(pairs, slots)
        with ExitStack() as stack:
            demo_url = stack.enter_context(demo_exchange()).url if any(p.exchange == DEMO for p in pairs) else None
            _run_series(steps, results, day, train_mode, catch_up_days, job, run_id, demo_url, api_url, slots)
        published = [publish_task.submit(result.pair, run_id, job.gate.min_pairs) for result in results]
        wait(published)
        for result, future in zip(results, published, strict=True):
            if not future.state.is_completed():
                result.notes.append(f"artifacts not published ({future.state.message})")
        pruned = prune_task(return_state=True)  # the retention policy; a failure leaves the run's outcome alone
        if not pruned.is_completed():
            logger.warning("checkpoints not pruned: %s", pruned.message)
    finally:
        summary = "\n".join(_describe(result) for result in results)
        failed = [result for result in results if result.error]
        finish_run_task(run_id, "failed" if failed else "completed", summary, pairs)
    logger.info("run %s:\n%s", run_id, summary)
    if failed:
        names = ", ".join(f"{result.pair} ({result.error})" for result in failed)
        message = f"{len(failed)} of {len(results)} series failed: {names}"
        return Failed(message=message, data=SeriesFailed(message))
    data = {"run_id": run_id, "series": {str(r.pair): {"days": r.days, "notes": r.notes} for r in results}}
    return Completed(message=f"{len(results)} series done (run {run_id})", data=data)


@dataclass(frozen=True)
class _Steps:
    """The I/O tasks, with the operator's retry delay (``FORECASTER_TASK_RETRY_DELAY_S``)."""

    ingest: Any
    evaluate: Any
    plan: Any
    train: Any
    forecast: Any

    @classmethod
    def with_retry_delay(cls, delay_s: float) -> _Steps:
        tasks = (ingest_task, evaluate_task, plan_task, train_task, forecast_task)
        return cls(*(task.with_options(**io_retries(delay_s)) for task in tasks))


def _run_series(
    steps: _Steps,
    results: list[SeriesResult],
    day: datetime | None,
    train_mode: TrainMode,
    catch_up_days: int,
    job: JobConfig,
    run_id: int,
    demo_url: str | None,
    api_url: str | None,
    slots: int,
) -> None:
    """Submit every series' chain, wait for all, and keep each series' first failure."""
    ingested, plans = {}, {}
    for result in results:
        url = demo_url if result.pair.exchange == DEMO else api_url
        ingested[result.pair] = steps.ingest.submit(result.pair, url, slots, run_id)
        evaluated = steps.evaluate.submit(result.pair, wait_for=[ingested[result.pair]])
        plans[result.pair] = steps.plan.submit(result.pair, day, catch_up_days, job.run_kind, wait_for=[evaluated])
    chains = {
        result.pair: _submit_days(steps, result, plans[result.pair], train_mode, job, run_id) for result in results
    }
    wait([future for chain in chains.values() for future in chain])
    for result in results:
        _collect(result, ingested[result.pair], chains[result.pair])


def _submit_days(
    steps: _Steps,
    result: SeriesResult,
    plan: PrefectFuture[list[datetime]],
    train_mode: TrainMode,
    job: JobConfig,
    run_id: int,
) -> list[PrefectFuture[Any]]:
    """Chain train -> forecast -> evaluate for each owed day of one series, oldest first.

    The forecast takes the training's outcome without depending on its success: a failed training
    still gets the day's baselines (the forecast task sees the error, and leaves the model owed)."""
    plan.wait()
    if not plan.state.is_completed():
        return [plan]
    futures: list[PrefectFuture[Any]] = [plan]
    previous: list[Any] = [plan]
    for owed in plan.result():
        result.days.append(f"{owed:%Y-%m-%d}")
        trained = steps.train.submit(result.pair, owed, train_mode, job, run_id, wait_for=previous)
        forecast = steps.forecast.submit(result.pair, owed, job, run_id, trained=allow_failure(trained))
        evaluated = steps.evaluate.submit(result.pair, wait_for=[forecast])
        futures += [trained, forecast, evaluated]
        previous = [evaluated]
    return futures


def _collect(result: SeriesResult, ingested: PrefectFuture[Any], chain: list[PrefectFuture[Any]]) -> None:
    """Keep the first failure of a series' chain: its root cause, not what it left unrun, in one line
    (a database error's SQL and parameters stay in the task's log)."""
    for future in [ingested, *chain]:
        state = future.state
        if state.is_failed() or state.is_crashed():
            error = state.result(raise_on_failure=False)
            text = str(error) if isinstance(error, BaseException) else str(state.message or state.name)
            result.error = text.strip().splitlines()[0] if text.strip() else type(error).__name__
            return


def _describe(result: SeriesResult) -> str:
    notes = "".join(f"; {note}" for note in result.notes)
    if result.error:
        return f"FAILED {result.pair}: {result.error}{notes}"
    days = ", ".join(result.days) or "nothing owed"
    return f"ok {result.pair}: forecast days {days}{notes}"


def _ensure_exchange_limits(pairs: list[SeriesKey], slots: int) -> None:
    """One global concurrency limit per exchange, so parallel series do not trip its rate limits."""
    with get_client(sync_client=True) as client:
        for exchange in sorted({pair.exchange for pair in pairs}):
            client.upsert_global_concurrency_limit_by_name(exchange_limit(exchange), slots)


def _jsonable(parameters: dict[str, Any]) -> dict[str, Any]:
    return TypeAdapter(dict[str, Any]).dump_python(parameters, mode="json")
