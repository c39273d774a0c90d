"""The walk-forward backtest as a Prefect flow: one task per series, series in parallel."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.futures import wait
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from pydantic import BaseModel, ConfigDict, Field, model_validator

from flows.params import Pair
from flows.resources import sessions, settings, torch_threads
from flows.tasks import finish_run_task, start_run_task
from forecaster.dates import day_start
from forecaster.pipeline.backtest import backtest_config, backtest_report, run_backtest, write_backtest_files
from forecaster.pipeline.config import JobConfig
from forecaster.report.markdown import markdown_table


class BacktestParams(BaseModel):
    """What one backtest replays."""

    model_config = ConfigDict(frozen=True)

    pairs: list[Pair] = Field(min_length=1)
    start: date
    end: date
    retrain_every: int = Field(default=7, ge=1, le=365, description="Days between full retrains.")
    horizon: int = Field(default=7, ge=1, le=60)
    job: JobConfig = Field(default_factory=JobConfig)

    @model_validator(mode="after")
    def _ordered(self) -> BacktestParams:
        if self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        if self.end > datetime.now(UTC).date():
            raise ValueError(f"end {self.end} lies in the future (UTC)")
        return self


@task(name="backtest", task_run_name="backtest {pair}")
def backtest_task(pair: Pair, params: BacktestParams, run_id: int) -> str:
    torch_threads()
    job = backtest_config(params.job, retrain_every=params.retrain_every, horizon=params.horizon)
    summary = run_backtest(
        sessions(),
        pair.key,
        day_start(params.start),
        day_start(params.end),
        job,
        settings().checkpoint_dir,
        run_id=run_id,
    )
    return summary.line()


@task(name="backtest report", task_run_name="backtest report {pair}")
def backtest_report_task(pair: Pair, params: BacktestParams) -> str:
    start, end = day_start(params.start), day_start(params.end)
    with sessions()() as session:
        table = backtest_report(session, pair.key, start, end)
        files = write_backtest_files(session, pair.key, start, end, table, settings().reports_dir)
    shown = table.drop(columns=["exchange", "symbol", "timeframe"])
    markdown = f"# Backtest {pair} {params.start}..{params.end}\n\n" + markdown_table(shown)
    slug = "".join(char if char.isalnum() else "-" for char in f"backtest-{pair}".lower())
    create_markdown_artifact(markdown, key=slug, description=f"Backtest report, {pair}")
    for path in [files.forecast_plot, files.rolling_plot, files.csv]:
        if path is not None:
            create_link_artifact(path.resolve().as_uri(), link_text=path.name, description=f"Backtest {pair}")
    return str(files.csv)


@flow(name="backtest", log_prints=True)
def backtest(params: BacktestParams) -> State[dict[str, Any]]:
    """Replay the daily job over ``params.start..params.end`` for every pair, then report."""
    torch_threads()
    run_id = start_run_task("backtest", params.model_dump(mode="json"), None, flow_run.get_id())
    runs = {pair: backtest_task.submit(pair, params, run_id) for pair in params.pairs}
    reports = {pair: backtest_report_task.submit(pair, params, wait_for=[runs[pair]]) for pair in params.pairs}
    wait(list(reports.values()))
    lines, failed = [], []
    for pair in params.pairs:
        state = runs[pair].state if not runs[pair].state.is_completed() else reports[pair].state
        if state.is_completed():
            lines.append(f"ok {runs[pair].result()}")
        else:
            error = state.result(raise_on_failure=False)
            failed.append(f"{pair} ({error})")
            lines.append(f"FAILED {pair}: {error}")
    summary = "\n".join(lines)
    finish_run_task(run_id, "failed" if failed else "completed", summary)
    print(summary)
    data = {"run_id": run_id, "summary": summary}
    if failed:
        return Failed(message=f"{len(failed)} of {len(params.pairs)} series failed: {', '.join(failed)}", data=data)
    return Completed(message=f"{len(params.pairs)} series backtested", data=data)
