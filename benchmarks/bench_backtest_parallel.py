"""Several symbols backtested in parallel through the task runner: the Prefect ``backtest`` flow on Dask.

    python -m benchmarks.bench_backtest_parallel [--symbols BTCUSDT,ETHUSDT] [--start 2025-03-31] [--days 60]
        [--workers 2] [--out DIR]

Imports ``../shared/data/<SYMBOL>.csv`` for each symbol into a fresh SQLite database and runs the ``backtest``
flow (default model and policy) under a local Prefect server twice, each time on a fresh database: first on a
local Dask cluster of ONE single-threaded worker process (the reference: the same flow, tasks and processes,
series one after the other), then on ``--workers`` such workers (series in parallel, the scale-out the README
describes). It prints both wall times, their ratio, and checks that both runs wrote identical forecasts.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path


def run(folder: Path, symbols: list[str], start: date, end: date, workers: int) -> float:
    """Wall seconds of one backtest flow run over a fresh database in ``folder``."""
    from prefect_dask import DaskTaskRunner

    from benchmarks.shared_data import import_pair, unified_symbol
    from flows.backtest import backtest
    from forecaster.db.engine import make_engine, session_factory
    from forecaster.db.migrate import upgrade
    from forecaster.series import SeriesKey

    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'backtest.db'}"
    os.environ["FORECASTER_DATABASE_URL"] = url  # the tasks read it in the Dask workers
    os.environ["FORECASTER_DATA_DIR"] = str(folder / "data")
    engine = make_engine(url)
    upgrade(engine)
    for name in symbols:
        import_pair(session_factory(engine), name)
    engine.dispose()
    pairs = [SeriesKey("binance", unified_symbol(name)) for name in symbols]
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True})
    began = time.perf_counter()
    state = backtest.with_options(task_runner=runner)(pairs=pairs, start=start, end=end, return_state=True)
    wall = time.perf_counter() - began
    if not state.is_completed():
        raise SystemExit(f"the backtest flow failed: {state.message}")
    return wall


def forecasts(folder: Path) -> list[tuple]:
    with sqlite3.connect(folder / "backtest.db") as connection:
        return connection.execute(
            "SELECT model, symbol, as_of, horizon, yhat, yhat_lower, yhat_upper FROM forecasts "
            "ORDER BY model, symbol, as_of, horizon"
        ).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", default="BTCUSDT,ETHUSDT")
    parser.add_argument("--start", default="2025-03-31")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_backtest_parallel_"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    symbols = args.symbols.split(",")
    start = date.fromisoformat(args.start)
    end = start + timedelta(days=args.days - 1)
    with prefect_test_harness(server_startup_timeout=120):
        sequential = run(out / "one_worker", symbols, start, end, workers=1)
        parallel = run(out / f"{args.workers}_workers", symbols, start, end, workers=args.workers)
    same = forecasts(out / "one_worker") == forecasts(out / f"{args.workers}_workers")
    print(
        f"command: python -m benchmarks.bench_backtest_parallel --symbols {args.symbols} --start {args.start} "
        f"--days {args.days} --workers {args.workers}"
    )
    print(f"machine: {os.cpu_count()} cores; {len(symbols)} symbols x {args.days} as-of days, default model")
    print(f"1 Dask worker (series one after the other): {sequential:.0f} s")
    print(f"{args.workers} Dask workers (series in parallel): {parallel:.0f} s")
    print(f"speed-up {sequential / parallel:.2f}x; identical forecasts in both runs: {same}")
    results = {
        "symbols": symbols,
        "days": args.days,
        "workers": args.workers,
        "sequential_s": sequential,
        "parallel_s": parallel,
        "speedup": sequential / parallel,
        "identical_forecasts": same,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
