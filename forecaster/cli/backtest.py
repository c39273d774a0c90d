"""``forecaster backtest``: the walk-forward replay of the daily job over a date range."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

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
    use_torch_threads,
)
from forecaster.errors import InputError

if TYPE_CHECKING:
    from datetime import datetime

    import pandas as pd
    from sqlalchemy.orm import Session, sessionmaker

    from forecaster.config import Settings
    from forecaster.pipeline.backtest import DayResult
    from forecaster.pipeline.config import JobConfig
    from forecaster.series import SeriesKey


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest_command)


def backtest_command(
    exchange: ExchangeOption,
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="ccxt unified symbol, e.g. BTC/USDT.")],
    start: Annotated[str, typer.Option(help="First as-of day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option(help="Last as-of day (YYYY-MM-DD).")],
    retrain_every: Annotated[int, typer.Option(min=1, max=365, help="Days between full retrains.")] = 7,
    horizon: Annotated[int, typer.Option(min=1, max=60, help="Days ahead to forecast.")] = 7,
    workers: Annotated[
        int, typer.Option(min=1, max=2, help="2: a second process fits each next full retrain ahead (same fits).")
    ] = 2,
    timeframe: TimeframeOption = "1d",
    job_file: JobOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Replay the daily job for each day of the range with only the candles known then, then report."""
    from forecaster.dates import parse_date

    key = modelled_series(exchange, symbol, timeframe)
    first, last = parse_date(start, option="--start"), parse_date(end, option="--end")
    if first > last:
        raise InputError(f"--start {first:%Y-%m-%d} is after --end {last:%Y-%m-%d}")
    from forecaster.pipeline.backtest import backtest_config, check_range  # after the options: torch loads here

    job = backtest_config(job_config(job_file), retrain_every=retrain_every, horizon=horizon)
    config = settings(database_url)
    use_torch_threads(config)
    sessions = open_database(config)
    check_range(sessions, key, first, last, job)  # before the run is recorded: bad input writes nothing
    parameters = {"exchange": exchange, "symbol": symbol, "start": start, "end": end, "retrain_every": retrain_every}
    _replay(sessions, key, first, last, job, config, parameters, workers)


def _replay(
    sessions: sessionmaker[Session],
    key: SeriesKey,
    first: datetime,
    last: datetime,
    job: JobConfig,
    config: Settings,
    parameters: dict[str, object],
    workers: int,
) -> None:
    """Run the backtest on record, then print and write its report."""
    from forecaster.pipeline.backtest import (
        backtest_calibration,
        backtest_report,
        backtest_scope,
        run_backtest,
        write_backtest_files,
    )
    from forecaster.pipeline.runs import finish_run, start_run
    from forecaster.report.calibration import calibration_scope

    run_id = start_run(sessions, "backtest", parameters=parameters, as_of=last)
    try:
        summary = run_backtest(
            sessions, key, first, last, job, config.checkpoint_dir, run_id=run_id, on_day=_progress, workers=workers
        )
    except BaseException as exc:
        finish_run(sessions, run_id, "failed", str(exc)[:2000])
        raise
    finish_run(sessions, run_id, "completed", summary.line())
    with sessions() as session:
        table = backtest_report(session, key, first, last)
        calibration = backtest_calibration(session, key, first, last)
        files = write_backtest_files(session, key, first, last, table, config.reports_dir, calibration=calibration)
    typer.echo(summary.line())
    typer.echo(backtest_scope(table, first, last))
    typer.echo(format_table(table))
    typer.echo("")
    typer.echo(calibration_scope(calibration))
    typer.echo(format_calibration(calibration))
    written = [files.csv, files.forecast_plot, files.rolling_plot, files.calibration_csv, files.calibration_plot]
    typer.echo("wrote " + ", ".join(str(path) for path in written if path is not None))


def format_table(table: pd.DataFrame) -> str:
    """The report for the terminal: the series and target days are said once, above it."""
    from forecaster.pipeline.backtest import shown_columns

    return shown_columns(table).to_string(index=False, float_format=lambda value: f"{value:.4g}")


def format_calibration(calibration: pd.DataFrame) -> str:
    """The calibration for the terminal: per model and horizon, the nominal level and the coverage overall
    and per volatility tercile, in percent."""
    from forecaster.report.calibration import coverage_table

    compact = coverage_table(calibration)
    return compact.to_string(index=False, na_rep="-", float_format=lambda value: f"{100 * value:.1f}%")


def _progress(result: DayResult, number: int, total: int) -> None:
    trained = f"{result.mode} {result.train_seconds:.1f} s" if result.trained else "model reused"
    notes = f"; {'; '.join(result.problems)}" if result.problems else ""
    typer.echo(
        f"  [{number}/{total}] {result.day:%Y-%m-%d}: {trained}, wrote {len(result.wrote)} models{notes}", err=True
    )
