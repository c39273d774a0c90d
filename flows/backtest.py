"""The walk-forward backtest as a Prefect flow: one task per series, series in parallel."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.futures import wait
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from pydantic import Field

from flows.params import Pairs, check_day, check_pairs
from flows.publish import artifact_key, embedded_png
from flows.resources import sessions, settings, torch_threads
from flows.runs import record_unfinished_run
from flows.tasks import finish_run_task, start_run_task
from forecaster.dates import day_start
from forecaster.errors import ForecasterError, InputError
from forecaster.pipeline.backtest import (
    backtest_calibration,
    backtest_config,
    backtest_report,
    backtest_scope,
    run_backtest,
    shown_columns,
    write_backtest_files,
)
from forecaster.pipeline.config import JobConfig
from forecaster.report.calibration import calibration_markdown
from forecaster.report.markdown import markdown_table
from forecaster.series import SeriesKey

RetrainEvery = Annotated[int, Field(ge=1, le=365, description="Days between full retrains.")]
Horizon = Annotated[int, Field(ge=1, le=60, description="Days ahead to forecast.")]


class BacktestFailed(ForecasterError):
    """Some series of a backtest failed."""


@task(name="backtest", task_run_name="backtest {pair}")
def backtest_task(pair: SeriesKey, start: datetime, end: datetime, job: JobConfig, run_id: int) -> str:
    torch_threads()
    summary = run_backtest(sessions(), pair, start, end, job, settings().checkpoint_dir, run_id=run_id)
    return summary.line()


@task(name="backtest report", task_run_name="backtest report {pair}")
def backtest_report_task(pair: SeriesKey, start: datetime, end: datetime) -> str:
    with sessions()() as session:
        table = backtest_report(session, pair, start, end)
        calibration = backtest_calibration(session, pair, start, end)
        files = write_backtest_files(session, pair, start, end, table, settings().reports_dir, calibration=calibration)
    shown = shown_columns(table)
    scope = backtest_scope(table, start, end)
    images = "".join(
        f"\n\n{embedded_png(path, path.stem)}" for path in (files.forecast_plot, files.rolling_plot) if path is not None
    )
    coverage = f"\n\n## Calibration of the intervals\n\n{calibration_markdown(calibration)}"
    if files.calibration_plot is not None:
        coverage += f"\n\n{embedded_png(files.calibration_plot, files.calibration_plot.stem)}"
    markdown = (
        f"# Backtest {pair} {start:%Y-%m-%d}..{end:%Y-%m-%d}\n\n{scope}\n\n{markdown_table(shown)}{images}{coverage}\n"
    )
    create_markdown_artifact(markdown, key=artifact_key("backtest", pair), description=f"Backtest report, {pair}")
    return str(files.csv)


@flow(name="backtest", log_prints=True, on_failure=[record_unfinished_run], on_crashed=[record_unfinished_run])
def backtest(
    pairs: Pairs,
    start: date,
    end: date,
    retrain_every: RetrainEvery = 7,
    horizon: Horizon = 7,
    job: JobConfig = JobConfig(),
) -> State[Any]:
    """Replay the daily job over ``start..end`` for every series, then report."""
    check_pairs(pairs)
    torch_threads()
    if start > end:
        raise InputError(f"start {start} is after end {end}")
    check_day(end, "end")
    first, last = day_start(start), day_start(end)
    replay = backtest_config(job, retrain_every=retrain_every, horizon=horizon)
    parameters: dict[str, Any] = {"pairs": [str(pair) for pair in pairs], "start": str(start), "end": str(end)}
    parameters |= {"retrain_every": retrain_every, "horizon": horizon}
    run_id = start_run_task("backtest", parameters, last, flow_run.get_id())
    lines, failed = [], []
    try:
        runs = {pair: backtest_task.submit(pair, first, last, replay, run_id) for pair in pairs}
        reports = {pair: backtest_report_task.submit(pair, first, last, wait_for=[runs[pair]]) for pair in pairs}
        wait(list(reports.values()))
        for pair in pairs:
            state = runs[pair].state if not runs[pair].state.is_completed() else reports[pair].state
            if state.is_completed():
                lines.append(f"ok {runs[pair].result()}")
            else:
                error = state.result(raise_on_failure=False)
                failed.append(f"{pair} ({error})")
                lines.append(f"FAILED {pair}: {error}")
    finally:
        summary = "\n".join(lines) or "nothing backtested"
        finish_run_task(run_id, "failed" if failed or len(lines) < len(pairs) else "completed", summary)
    print(summary)
    if failed:
        message = f"{len(failed)} of {len(pairs)} series failed: {', '.join(failed)}"
        return Failed(message=message, data=BacktestFailed(message))
    return Completed(
        message=f"{len(pairs)} series backtested (run {run_id})", data={"run_id": run_id, "summary": summary}
    )
