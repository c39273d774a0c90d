"""The commands that run Prefect flows: ``forecaster run`` and ``forecaster serve``.

They live here, beside the flows, so that the ``forecaster`` library never imports Prefect; the
console command is this module's ``main``, which adds them to the library's commands.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from forecaster.cli import app
from forecaster.cli import main as library_main
from forecaster.cli.common import ApiUrlOption, DatabaseOption, TimeframeOption, split_symbols, validation_message
from forecaster.dates import parse_date
from forecaster.errors import InputError

DAILY_CRON = "10 0 * * *"  # ten minutes after the daily candle closes at 00:00 UTC


@app.command("run")
def run_command(
    exchange: Annotated[str, typer.Option("--exchange", "-e", help="ccxt exchange id, or demo (offline).")] = "demo",
    symbols: Annotated[str, typer.Option("--symbols", "-s", help="Comma-separated.")] = "BTC/USDT,ETH/USDT",
    as_of: Annotated[str | None, typer.Option("--as-of", help="Forecast as of this day (YYYY-MM-DD).")] = None,
    mode: Annotated[str, typer.Option(help="Training: full, finetune or auto.")] = "auto",
    timeframe: TimeframeOption = "1d",
    api_url: ApiUrlOption = None,
    dask_address: Annotated[
        str | None, typer.Option(envvar="FORECASTER_DASK_ADDRESS", help="Run the series on this Dask cluster.")
    ] = None,
    dask_workers: Annotated[int, typer.Option(help="With --dask-local: workers of a local cluster.")] = 0,
    database_url: DatabaseOption = None,
) -> None:
    """Run the daily job once: ingest, evaluate, train, forecast, publish."""
    from flows.daily import daily
    from flows.params import DailyParams, pairs_of

    if database_url:
        os.environ["FORECASTER_DATABASE_URL"] = database_url  # tasks read their settings from the environment
    day = parse_date(as_of, option="--as-of").date() if as_of else None
    params = _params(
        DailyParams,
        pairs=pairs_of(exchange, split_symbols(symbols), timeframe),
        as_of=day,
        trigger="cli",
        train_mode=mode,
    )
    flow = (
        daily.with_options(task_runner=_dask_runner(dask_address, dask_workers))
        if (dask_address or dask_workers)
        else daily
    )
    state = flow(params=params, api_url=api_url, return_state=True)
    typer.echo(state.message or state.name)
    if not state.is_completed():
        raise typer.Exit(1)


@app.command("serve")
def serve_command(
    exchange: Annotated[str, typer.Option("--exchange", "-e")] = "demo",
    symbols: Annotated[str, typer.Option("--symbols", "-s")] = "BTC/USDT,ETH/USDT",
    cron: Annotated[str, typer.Option(help="Schedule, in UTC.")] = DAILY_CRON,
    name: Annotated[str, typer.Option(help="Deployment name.")] = "daily",
) -> None:
    """Serve the daily deployment on its schedule from this process (no work pool needed)."""
    from flows.daily import daily
    from flows.params import DailyParams, pairs_of

    params = _params(DailyParams, pairs=pairs_of(exchange, split_symbols(symbols)))
    daily.serve(name=name, cron=cron, parameters={"params": params.model_dump(mode="json")})


def _params(model: Any, **values: Any) -> Any:
    try:
        return model(**values)
    except ValidationError as exc:
        raise InputError(validation_message(exc)) from None


def _dask_runner(address: str | None, workers: int) -> Any:
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True})


def main() -> None:
    """Console entry point of ``forecaster``."""
    # The job runs offline and unattended: Prefect's server-side usage analytics stay off unless asked for.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    library_main()
