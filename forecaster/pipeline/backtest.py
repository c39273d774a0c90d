"""Walk-forward backtest: replay the daily job's steps day by day with only the candles known then.

Every as-of day in the range runs exactly the daily job's code (``evaluate_step``,
``train_step`` with the auto policy, ``forecast_step``) under ``run_kind = 'backtest'``, which
keeps its forecasts and its model lineage apart from the live ones. Each step reads only candles
up to its as-of day, so there is no look-ahead by construction (and a test checks it). Days that
already have the model's forecast are skipped: an interrupted backtest resumes where it stopped, and a
finished one re-run changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db.models import ModelVersion
from forecaster.errors import InputError
from forecaster.ingest.store import load_candles
from forecaster.model.train import train
from forecaster.pipeline.ahead import FullRetrainsAhead, worker_pool
from forecaster.pipeline.config import JobConfig
from forecaster.pipeline.evaluate import evaluate_step
from forecaster.pipeline.forecast import forecast_step
from forecaster.pipeline.train import Fit, train_step
from forecaster.report.accuracy import accuracy_table, scored_forecasts
from forecaster.report.calibration import VOLATILITY_DAYS, calibration_table, plot_calibration
from forecaster.report.plots import plot_forecasts, plot_rolling_mae
from forecaster.results.forecasts import MODEL, forecast_days
from forecaster.series import SeriesKey, of_series
from forecaster.timeframes import require_daily

RUN_KIND = "backtest"


@dataclass
class DayResult:
    day: datetime
    mode: str
    trained: bool
    train_seconds: float
    wrote: list[str]
    problems: list[str]


@dataclass
class BacktestSummary:
    key: SeriesKey
    start: datetime
    end: datetime
    days: list[DayResult] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0
    ahead: int = 0  # full retrains a second process fitted ahead (``workers=2``)

    def line(self) -> str:
        full = sum(1 for d in self.days if d.trained and d.mode == "full")
        tuned = sum(1 for d in self.days if d.trained and d.mode == "finetune")
        train_s = sum(d.train_seconds for d in self.days)
        return (
            f"{self.key} {self.start:%Y-%m-%d}..{self.end:%Y-%m-%d}: {len(self.days)} days run, {self.skipped} "
            f"already done; {full} full retrains ({self.ahead} fitted ahead), {tuned} fine-tunes, {train_s:.0f} s "
            f"training, {self.seconds:.0f} s in all"
        )


def backtest_config(job: JobConfig, *, retrain_every: int, horizon: int) -> JobConfig:
    """The daily job's configuration with the backtest's retrain cadence and horizon (validated)."""
    return JobConfig.model_validate(
        job.model_dump()
        | {
            "run_kind": RUN_KIND,
            "model": job.model.model_dump() | {"horizon": horizon},
            "train": job.train.model_dump() | {"full_retrain_every_days": retrain_every},
        }
    )


def check_range(
    sessions: sessionmaker[Session], key: SeriesKey, start: datetime, end: datetime, job: JobConfig
) -> None:
    """Refuse a non-daily series, and a range that is reversed, beyond the stored candles, or without a full
    window before it."""
    require_daily(key.timeframe)
    if start > end:
        raise InputError(f"--start {start:%Y-%m-%d} is after --end {end:%Y-%m-%d}")
    with sessions() as session:
        before = load_candles(session, key, end=start - timedelta(days=1))
        stored = load_candles(session, key, start=start, end=end)
    if stored.empty:
        raise InputError(f"no candles of {key} between {start:%Y-%m-%d} and {end:%Y-%m-%d}: ingest them first")
    needed = job.train.window_days + job.model.lookback
    if before.empty or (start - before["ts"].iloc[0].to_pydatetime()).days < needed:
        have = 0 if before.empty else (start - before["ts"].iloc[0].to_pydatetime()).days
        raise InputError(
            f"the first as-of day needs {needed} days of candles before --start ({job.train.window_days}-day "
            f"training window + {job.model.lookback}-day lookback); {key} has {have}: start later or backfill"
        )


def run_backtest(
    sessions: sessionmaker[Session],
    key: SeriesKey,
    start: datetime,
    end: datetime,
    job: JobConfig,
    checkpoint_dir: Path,
    *,
    run_id: int | None = None,
    on_day: Callable[[DayResult, int, int], None] | None = None,
    workers: int = 1,
) -> BacktestSummary:
    """Replay the daily job for every stored as-of day in ``[start, end]``; see the module docstring.

    ``workers=2``: a second process fits each next full retrain ahead (``ahead.FullRetrainsAhead``), the
    same fits, on two cores."""
    if job.run_kind != RUN_KIND:
        raise ValueError("a backtest runs with run_kind='backtest' (see backtest_config)")
    if workers not in (1, 2):
        raise InputError(f"workers must be 1 or 2 (a second process fits the full retrains ahead), not {workers}")
    check_range(sessions, key, start, end, job)
    began = time.perf_counter()
    summary = BacktestSummary(key, start, end)
    with sessions() as session:
        stored = [ts.to_pydatetime() for ts in load_candles(session, key, start=start, end=end)["ts"]]
        done = forecast_days(session, key, RUN_KIND, start, end, model=MODEL)
    todo = [day for day in stored if day not in done]
    summary.skipped = len(stored) - len(todo)
    with ExitStack() as stack:
        ahead = (
            FullRetrainsAhead(stack.enter_context(worker_pool()), sessions, key, todo, job)
            if workers == 2 and todo
            else None
        )
        fit: Fit = ahead if ahead is not None else train
        for number, day in enumerate(todo, start=1):
            evaluate_step(sessions, key)
            trained = train_step(sessions, key, day, "auto", job, checkpoint_dir, run_id=run_id, fit=fit)
            wrote = forecast_step(sessions, key, day, job, run_id=run_id, checkpoint_dir=checkpoint_dir)
            result = DayResult(day, trained.mode, trained.trained, trained.seconds, wrote.written, wrote.problems)
            summary.days.append(result)
            if on_day is not None:
                on_day(result, number, len(todo))
        summary.ahead = ahead.taken if ahead is not None else 0
    evaluate_step(sessions, key)
    summary.seconds = time.perf_counter() - began
    return summary


def backtest_report(session: Session, key: SeriesKey, start: datetime, end: datetime) -> pd.DataFrame:
    """Per model and horizon, every scored forecast the backtest made (as-of days ``start..end``; the
    targets of the last days run past ``end`` and count once their candles are stored): the columns
    of ``forecast_accuracy`` (same definitions), MASE, and the training time spent.

    MASE divides MAE by the in-sample one-day naive MAE of the 730 days before ``start``. On a
    database whose only backtest of this series is this range, the rows equal ``forecast_accuracy``'s
    for ``run_kind = 'backtest'``; ``backtest_scope`` says so in words.
    """
    table = accuracy_table(session, key=key, run_kind=RUN_KIND, first_as_of=start.date(), last_as_of=end.date())
    history = load_candles(session, key, start=start - timedelta(days=730), end=start - timedelta(days=1))
    scale = float(np.mean(np.abs(np.diff(history["close"].to_numpy())))) if len(history) > 1 else float("nan")
    table.insert(table.columns.get_loc("mape_pct") + 1, "mase", table["mae"] / scale)
    train_seconds = session.scalar(
        select(func.coalesce(func.sum(ModelVersion.duration_s), 0.0)).where(
            of_series(ModelVersion, key),
            ModelVersion.run_kind == RUN_KIND,
            ModelVersion.train_end >= start,
            ModelVersion.train_end <= end,
        )
    )
    table["train_seconds"] = np.where(table["model"] == "bilstm_gru", float(train_seconds or 0.0), 0.0)
    return table


# Left out of the table shown to a reader (the CSV has every column): the series and target days, which
# ``backtest_scope`` names, and the pinball losses, alpha/4 times the interval scores beside them (their
# ratio to naive's is interval_score_vs_naive whenever the models share one level, as the job's do).
HIDDEN_COLUMNS = [
    "exchange",
    "symbol",
    "timeframe",
    "first_target_date",
    "last_target_date",
    "mean_pinball_loss",
    "pinball_loss_vs_naive",
]


def shown_columns(table: pd.DataFrame) -> pd.DataFrame:
    """``backtest_report`` for a reader: without ``HIDDEN_COLUMNS``."""
    return table.drop(columns=HIDDEN_COLUMNS)


def backtest_scope(table: pd.DataFrame, start: datetime, end: datetime) -> str:
    """One sentence on what ``backtest_report``'s ``table`` counts, and how it relates to the views."""
    if table.empty:
        return f"Nothing scored yet of the forecasts made as of {start:%Y-%m-%d}..{end:%Y-%m-%d}."
    first, last = min(table["first_target_date"]), max(table["last_target_date"])
    return (
        f"Every scored forecast made as of {start:%Y-%m-%d}..{end:%Y-%m-%d} (targets {first:%Y-%m-%d}.."
        f"{last:%Y-%m-%d}: the last days' targets run past the end); the same rows as forecast_accuracy "
        f"(run_kind 'backtest') when this is the series' only backtest range. `forecaster report --run-kind "
        f"backtest` shows the last 30 and 90 days of targets instead."
    )


def backtest_calibration(session: Session, key: SeriesKey, start: datetime, end: datetime) -> pd.DataFrame:
    """The intervals' coverage per model, horizon and volatility tercile of the as-of days (every scored
    forecast made as of ``start..end``, as ``backtest_report`` counts them): see
    ``forecaster.report.calibration``."""
    scores = scored_forecasts(session, key=key, run_kind=RUN_KIND, first_as_of=start.date(), last_as_of=end.date())
    candles = load_candles(session, key, start=start - timedelta(days=VOLATILITY_DAYS), end=end)
    return calibration_table(scores, candles)


@dataclass(frozen=True)
class BacktestFiles:
    csv: Path
    forecast_plot: Path
    rolling_plot: Path | None
    calibration_csv: Path
    calibration_plot: Path | None


def write_backtest_files(
    session: Session,
    key: SeriesKey,
    start: datetime,
    end: datetime,
    table: pd.DataFrame,
    folder: Path,
    *,
    calibration: pd.DataFrame | None = None,
) -> BacktestFiles:
    """The report as CSV, and PNGs: actual vs forecast with intervals, and the rolling 30-day MAE vs naive;
    the calibration (``backtest_calibration``, computed here unless given) as CSV and PNG."""
    stem = f"backtest_{key.exchange}_{key.symbol.replace('/', '-')}_{key.timeframe}_{start:%Y%m%d}_{end:%Y%m%d}"
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"{stem}.csv"
    table.to_csv(csv, index=False, float_format="%.6g")
    if calibration is None:
        calibration = backtest_calibration(session, key, start, end)
    calibration_csv = folder / f"{stem}_calibration.csv"
    calibration.to_csv(calibration_csv, index=False, float_format="%.6g")
    calibration_plot = (
        plot_calibration(
            calibration,
            folder / f"{stem}_calibration.png",
            title=f"{key}: backtest {start:%Y-%m-%d}..{end:%Y-%m-%d}, coverage of the intervals",
        )
        if not calibration.empty
        else None
    )
    forecasts = plot_forecasts(
        session, key, folder / f"{stem}_forecasts.png", run_kind=RUN_KIND, days=(end - start).days + 8
    )
    scores = scored_forecasts(
        session, key=key, run_kind=RUN_KIND, first_as_of=start.date(), last_as_of=end.date(), horizon=1
    )
    errors = scores.assign(target_ts=pd.to_datetime(scores["target_date"]))
    try:
        rolling: Path | None = plot_rolling_mae(
            errors, folder / f"{stem}_rolling_mae.png", title=f"{key}: rolling 30-day MAE, horizon 1"
        )
    except InputError:
        rolling = None  # too few scored days for a rolling window
    return BacktestFiles(csv, forecasts, rolling, calibration_csv, calibration_plot)
