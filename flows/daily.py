"""The daily job: for each series, ingest -> evaluate -> (train -> forecast -> evaluate) per owed day.

Each series is its own chain of task futures, so the series run concurrently through the task
runner and one failing series does not stop the others; the run ends Failed, naming them.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect import flow, get_client, get_run_logger
from prefect.futures import PrefectFuture, wait
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State

from flows.params import DailyParams, Pair
from flows.publish import publish_task
from flows.resources import torch_threads
from flows.tasks import (
    evaluate_task,
    exchange_limit,
    finish_run_task,
    forecast_task,
    ingest_task,
    plan_task,
    start_run_task,
    train_task,
)
from forecaster.config import Settings
from forecaster.dates import day_start
from forecaster.exchange.open import DEMO
from forecaster.exchange.synthetic import demo_exchange


@dataclass
class SeriesResult:
    pair: Pair
    days: list[str] = field(default_factory=list)
    error: str | None = None


@flow(name="daily", log_prints=True)
def daily(params: DailyParams | None = None, api_url: str | None = None) -> State[dict[str, Any]]:
    """Run the daily job once for every pair in ``params``.

    ``api_url`` overrides the exchanges' API host (sandboxes, proxies, tests); the ``demo``
    exchange is served by a loopback server started for this run.
    """
    params = params or DailyParams()
    torch_threads()
    logger = get_run_logger()
    as_of = day_start(params.as_of) if params.as_of else None
    run_id = start_run_task(params.kind, params.model_dump(mode="json"), as_of, flow_run.get_id())
    slots = Settings().exchange_concurrency if params.exchange_concurrency is None else params.exchange_concurrency
    if slots:
        _ensure_exchange_limits(params, slots)

    with ExitStack() as stack:
        demo_url = None
        if any(pair.exchange == DEMO for pair in params.pairs):
            demo_url = stack.enter_context(demo_exchange()).url
        results = [SeriesResult(pair) for pair in params.pairs]
        ingested = {
            result.pair: ingest_task.submit(result.pair, demo_url if result.pair.exchange == DEMO else api_url, slots)
            for result in results
        }
        plans = {}
        for result in results:
            evaluated = evaluate_task.submit(result.pair, wait_for=[ingested[result.pair]])
            plans[result.pair] = plan_task.submit(
                result.pair, as_of, params.catch_up_days, params.job.run_kind, wait_for=[evaluated]
            )
        chains: dict[Pair, list[PrefectFuture[Any]]] = {}
        for result in results:
            chains[result.pair] = _submit_days(result, plans[result.pair], params, run_id)
        wait([future for chain in chains.values() for future in chain])
        for result in results:
            _collect(result, ingested[result.pair], chains[result.pair])

    failed = [result for result in results if result.error]
    publish_task(run_id, [result.pair for result in results], as_of)
    summary = "\n".join(_describe(result) for result in results)
    status = "failed" if failed else "completed"
    finish_run_task(run_id, status, summary)
    logger.info("run %s %s:\n%s", run_id, status, summary)
    data = {"run_id": run_id, "series": {str(r.pair): {"days": r.days, "error": r.error} for r in results}}
    if failed:
        names = ", ".join(f"{result.pair} ({result.error})" for result in failed)
        return Failed(message=f"{len(failed)} of {len(results)} series failed: {names}", data=data)
    return Completed(message=f"{len(results)} series done", data=data)


def _submit_days(
    result: SeriesResult, plan: PrefectFuture[list[datetime]], params: DailyParams, run_id: int
) -> list[PrefectFuture[Any]]:
    """Chain train -> forecast -> evaluate for each owed day of one series, oldest first."""
    plan.wait()
    if not plan.state.is_completed():
        return [plan]
    futures: list[PrefectFuture[Any]] = [plan]
    previous: list[PrefectFuture[Any]] = [plan]
    for day in plan.result():
        result.days.append(f"{day:%Y-%m-%d}")
        trained = train_task.submit(result.pair, day, params.train_mode, params.job, run_id, wait_for=previous)
        forecast = forecast_task.submit(result.pair, day, params.job, run_id, wait_for=[trained])
        evaluated = evaluate_task.submit(result.pair, wait_for=[forecast])
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
    if result.error:
        return f"FAILED {result.pair}: {result.error}"
    days = ", ".join(result.days) or "nothing owed"
    return f"ok {result.pair}: forecast days {days}"


def _ensure_exchange_limits(params: DailyParams, slots: int) -> None:
    """One global concurrency limit per exchange, so parallel series do not trip its rate limits."""
    with get_client(sync_client=True) as client:
        for exchange in sorted({pair.exchange for pair in params.pairs}):
            client.upsert_global_concurrency_limit_by_name(exchange_limit(exchange), slots)
