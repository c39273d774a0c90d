"""``forecaster report``: the forecast chart of one series and its accuracy summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from forecaster.cli.common import (
    DatabaseOption,
    ExchangeOption,
    JobOption,
    TimeframeOption,
    job_config,
    modelled_series,
    open_database,
    settings,
)


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)


def report_command(
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="ccxt unified symbol, e.g. BTC/USDT.")],
    exchange: ExchangeOption = "demo",
    timeframe: TimeframeOption = "1d",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="PNG to write (default: <data dir>/reports/<exchange>_<BASE-QUOTE>_<tf>.png)."
        ),
    ] = None,
    run_kind: Annotated[
        Literal["live", "backtest"], typer.Option("--run-kind", help="Daily forecasts or backtest ones.")
    ] = "live",
    job_file: JobOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Draw the forecast chart of one series and print its accuracy over the last 30 and 90 days
    (``forecast_accuracy_rolling``: the days up to its newest scored target)."""
    from forecaster.report.markdown import accuracy_markdown
    from forecaster.report.paths import report_path
    from forecaster.report.plots import plot_forecasts

    key = modelled_series(exchange, symbol, timeframe)
    min_n = job_config(job_file).gate.min_pairs  # every option read before the database is opened
    config = settings(database_url)
    sessions = open_database(config)
    with sessions() as session:
        path = plot_forecasts(session, key, out or report_path(config.reports_dir, key), run_kind=run_kind)
        summary = accuracy_markdown(session, [key], run_kind=run_kind, min_n=min_n)
    typer.echo(str(path))
    typer.echo("")
    typer.echo(summary.rstrip("\n"))
