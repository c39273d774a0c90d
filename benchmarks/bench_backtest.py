"""The 365-day walk-forward backtest of one symbol: wall time against the 4-minute target, and where it goes.

    python -m benchmarks.bench_backtest [--symbol BTCUSDT] [--start 2025-03-31] [--end 2026-03-30] [--out DIR]
        [--profile] [--job JSON] [--retrain-every 7] [--workers 2]

Imports ``../shared/data/<SYMBOL>.csv`` into a fresh SQLite database, runs ``forecaster.backtest.run_backtest``
with the default model and policy (weekly full retrain, daily fine-tune), and prints the wall time, the fits
by mode, and the report table. The reference measured in the same run is the pure training compute (the fits'
own seconds): ``overhead = wall / fit seconds``. This machine's speed is measured in the same run too, before
and after the backtest: the median seconds of one plain-PyTorch training epoch of the default network on the
first as-of day's training windows (the *reference epoch*), so that runs on a faster or slower machine (or
the same machine in a busier hour) compare as ``wall / reference epoch``. ``--profile`` runs it under
cProfile and adds the share of each step; cProfile slows the Python-heavy parts, so the headline wall time
comes from a run without it.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import shlex
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import torch
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.shared_data import import_pair
from forecaster.cli.backtest import format_table
from forecaster.db.engine import make_engine, session_factory
from forecaster.db.migrate import upgrade
from forecaster.ingest.store import load_candles
from forecaster.model.data import CandleDataModule
from forecaster.model.network import BiLSTMGRU
from forecaster.pipeline.backtest import (
    BacktestSummary,
    DayResult,
    backtest_config,
    backtest_report,
    run_backtest,
    write_backtest_files,
)
from forecaster.pipeline.config import JobConfig
from forecaster.series import SeriesKey

STEPS = {
    "train (fit)": "forecaster/model/train.py:train",
    "auto policy: parent's validation loss": "forecaster/model/policy.py:parent_val_loss",
    "checkpoint save + register": "forecaster/registry/versions.py:save_and_register",
    "checkpoint load (hash + weights_only)": "forecaster/registry/versions.py:load_version",
    "forecast (model)": "forecaster/model/predict.py:forecast",
    "baselines": "forecaster/model/baselines.py:baseline_forecast",
    "naive gate": "forecaster/results/gate.py:naive_gate",
    "evaluate": "forecaster/pipeline/evaluate.py:evaluate_step",
    "read candles": "forecaster/pipeline/inputs.py:read_history",
}


def cumulative(stats: pstats.Stats, target: str) -> float:
    """Cumulative seconds of the function ``path:name`` (summed over its entries)."""
    path, name = target.split(":")
    return sum(
        entry[3]
        for (filename, _, function), entry in stats.stats.items()  # type: ignore[attr-defined]
        if filename.endswith(path) and function == name
    )


def fits_by_mode(summary: BacktestSummary) -> dict[str, tuple[int, float]]:
    """Number and seconds of the fits of each mode (full, finetune)."""
    fits: dict[str, tuple[int, float]] = {}
    for day in summary.days:
        if day.trained:
            count, seconds = fits.get(day.mode, (0, 0.0))
            fits[day.mode] = (count + 1, seconds + day.train_seconds)
    return fits


def reference_epoch_seconds(sessions: sessionmaker[Session], key: SeriesKey, as_of: datetime, job: JobConfig) -> float:
    """Median seconds (of 3) of one plain training epoch of the default network on ``as_of``'s training windows."""
    with sessions() as session:
        candles = load_candles(session, key, end=as_of)
    data = CandleDataModule(candles, pd.Timestamp(as_of), job.model, job.train)
    data.setup("fit")
    torch.manual_seed(0)
    torch.set_num_threads(1)
    cfg = job.model
    net = BiLSTMGRU(len(cfg.features), cfg.horizon, cfg.lstm_hidden, cfg.gru_hidden, cfg.dropout).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=job.train.learning_rate)
    seconds = []
    for _ in range(3):
        began = time.perf_counter()
        for x, y in data.train_dataloader():
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(net(x), y).backward()
            optimizer.step()
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds)


def progress(result: DayResult, number: int, total: int) -> None:
    if number % 30 == 0 or number == total:
        print(f"  [{number}/{total}] {result.day:%Y-%m-%d}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbol", default="BTCUSDT")
    parser.add_argument("--start", default="2025-03-31")
    parser.add_argument("--end", default="2026-03-30")
    parser.add_argument("--out", type=Path, default=None, help="folder for the report, CSV, PNGs and results.json")
    parser.add_argument(
        "--job",
        default="{}",
        help='JobConfig overrides as JSON, e.g. \'{"model": {"features": ["log_return", "range"]}}\'',
    )
    parser.add_argument("--retrain-every", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, choices=(1, 2), help="as forecaster backtest --workers")
    parser.add_argument("--profile", action="store_true", help="run under cProfile and print where the time goes")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_backtest_"))
    out.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{out / 'backtest.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    key = import_pair(sessions, args.symbol)
    start, end = (pd.Timestamp(day, tz="UTC").to_pydatetime() for day in (args.start, args.end))
    overrides = json.loads(args.job)
    base = JobConfig().model_dump()
    job = backtest_config(
        JobConfig.model_validate(
            {**base, **{k: base[k] | v if isinstance(v, dict) else v for k, v in overrides.items()}}
        ),
        retrain_every=args.retrain_every,
        horizon=7,
    )

    reference_before = reference_epoch_seconds(sessions, key, start, job)
    profiler = cProfile.Profile() if args.profile else None
    began = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    summary = run_backtest(sessions, key, start, end, job, out / "checkpoints", on_day=progress, workers=args.workers)
    if profiler is not None:
        profiler.disable()
    wall = time.perf_counter() - began
    fit = sum(day.train_seconds for day in summary.days)
    reference_after = reference_epoch_seconds(sessions, key, start, job)
    reference = (reference_before + reference_after) / 2

    with sessions() as session:
        table = backtest_report(session, key, start, end)
        files = write_backtest_files(session, key, start, end, table, out)
    print(
        f"machine: {os.cpu_count()} cores, python {platform.python_version()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), {args.workers} process(es){', under cProfile' if profiler else ''}"
    )
    print(f"command: python -m benchmarks.bench_backtest {shlex.join(sys.argv[1:])}".rstrip())
    print(summary.line())
    fits = fits_by_mode(summary)
    for mode, (count, seconds) in fits.items():
        print(f"{mode}: {count} fits, {seconds:.0f} s, {seconds / max(count, 1):.2f} s each")
    print(
        f"wall {wall:.0f} s ({wall / 60:.1f} min, issue 15: < 4 min); fits {fit:.0f} s; overhead ratio {wall / fit:.2f}"
    )
    print(
        f"reference epoch (this machine's speed): {reference_before:.3f} s before, {reference_after:.3f} s after; "
        f"wall = {wall / reference:.0f} reference epochs"
    )
    steps: dict[str, float] = {}
    if profiler is not None:
        stats = pstats.Stats(profiler)
        steps = {name: cumulative(stats, target) for name, target in STEPS.items()}
        print("| step | seconds (cumulative, profiled) | share of wall |\n| --- | ---: | ---: |")
        for name, seconds in steps.items():
            print(f"| {name} | {seconds:.1f} | {seconds / wall:.0%} |")
    print(format_table(table))
    print(f"files: {files.csv} {files.forecast_plot} {files.rolling_plot}")
    results = {
        "wall_s": wall,
        "fit_s": fit,
        "reference_epoch_s": [reference_before, reference_after],
        "wall_in_reference_epochs": wall / reference,
        "days": len(summary.days),
        "profiled": profiler is not None,
        "fits": {mode: {"count": count, "seconds": seconds} for mode, (count, seconds) in fits.items()},
        "steps": steps,
        "summary": summary.line(),
        "job": job.model_dump(mode="json"),
        "retrain_every": args.retrain_every,
        "workers": args.workers,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
