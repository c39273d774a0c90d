"""The commands that run Prefect flows: ``forecaster run`` and ``forecaster serve``.

They live here, beside the flows, so that the ``forecaster`` library never imports Prefect; the
console command is this module's ``main``, which adds them to the library's commands. Prefect and
the flows are imported inside the commands: ``forecaster --help`` answers without them.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Annotated, Any

import typer

from forecaster.cli import app
from forecaster.cli import main as library_main
from forecaster.cli.common import (
    ApiUrlOption,
    DatabaseOption,
    JobOption,
    TimeframeOption,
    check_database,
    job_config,
    settings,
    split_symbols,
)

DAILY_CRON = "10 0 * * *"  # ten minutes after the daily candle closes at 00:00 UTC
SERVE_NAME = "serve"  # never "daily": that name belongs to the work-pool deployment of deployments/prefect.yaml


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
    dask_workers: Annotated[int, typer.Option(help="Run the series on a local Dask cluster of this many workers.")] = 0,
    job_file: JobOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Run the daily job once: ingest, evaluate, train, forecast, publish. Exits 1 when a series fails."""
    from flows.params import check_day, check_pairs, pairs_of
    from forecaster.dates import parse_date

    # the options first, with light imports: a bad one is one line within a second, before torch and Prefect load
    if mode not in ("full", "finetune", "auto"):
        raise typer.BadParameter("use full, finetune or auto", param_hint="--mode")
    pairs = pairs_of(exchange, split_symbols(symbols), timeframe)
    check_pairs(pairs)
    day = parse_date(as_of, option="--as-of").date() if as_of else None
    check_day(day, "--as-of")
    job = job_config(job_file)
    if database_url:
        os.environ["FORECASTER_DATABASE_URL"] = database_url  # tasks read their settings from the environment
    check_database(settings(database_url))  # unreachable or outdated: one clear line, before the flow
    from flows.daily import daily

    flow = (
        daily.with_options(task_runner=_dask_runner(dask_address, dask_workers))
        if (dask_address or dask_workers)
        else daily
    )
    state = flow(pairs=pairs, as_of=day, train_mode=mode, job=job, api_url=api_url, return_state=True)
    typer.echo(state.message or state.name)
    if not state.is_completed():
        raise typer.Exit(1)


@app.command("serve")
def serve_command(
    exchange: Annotated[str, typer.Option("--exchange", "-e", help="ccxt exchange id, or demo (offline).")],
    symbols: Annotated[str, typer.Option("--symbols", "-s", help="Comma-separated.")] = "BTC/USDT,ETH/USDT",
    timeframe: TimeframeOption = "1d",
    cron: Annotated[str, typer.Option(help="Schedule, in UTC.")] = DAILY_CRON,
    name: Annotated[str, typer.Option(help="Deployment name: daily/<name>.")] = SERVE_NAME,
    job_file: JobOption = None,
) -> None:
    """Serve the daily job on its schedule from this process, as its own deployment (no work pool needed).

    It never takes over a deployment made with ``prefect deploy`` (one with a work pool): choose another
    ``--name``. Stopping it pauses the schedule of its own deployment only."""
    from flows.params import check_pairs, pairs_of

    pairs = pairs_of(exchange, split_symbols(symbols), timeframe)
    check_pairs(pairs)
    job = job_config(job_file)
    from flows.daily import daily
    from flows.serve import check_servable

    check_servable(f"{daily.name}/{name}")
    parameters = {"pairs": [dataclasses.asdict(pair) for pair in pairs], "job": job.model_dump(mode="json")}
    daily.serve(
        name=name,
        cron=cron,
        parameters=parameters,
        tags=["forecaster", "serve"],
        description=f"The daily job served by `forecaster serve` from one process ({', '.join(map(str, pairs))}).",
    )


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
