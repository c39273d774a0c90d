"""Soak: replay many daily runs of the real ``daily`` flow with seeded random exchange faults, then audit.

    python -m benchmarks.soak [--days 365] [--seed 7] [--start 2025-01-01] [--database-url URL] [--out DIR]

Three symbols of ``../shared/data`` (BTC, ETH, SOL) are served by the loopback exchange. Day after day
the exchange's clock moves to ten minutes after that day's close, a fault may be armed for the run
(HTTP 429 with Retry-After, a 5xx burst, malformed JSON, an empty page, a duplicated candle, a
corrupted candle with a NaN or negative price, the exchange down for the whole run, latency), and the
``daily`` flow runs under one local Prefect server. The model uses tiny settings: the soak tests
robustness, not accuracy. At the end it checks that

- after one more fault-free run (the next day's), the stored candles equal the source (every stored
  candle, every source day up to the last day);
- every as-of day has exactly one forecast set per model (one row per horizon, no duplicates);
- no run left partial rows (a forecast set with missing horizons, a model version without its
  stored checkpoint, unless the retention policy pruned it) and every run is recorded as completed or failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd

from benchmarks.shared_data import read_pair

SYMBOLS = {"BTC/USDT": "BTCUSDT", "ETH/USDT": "ETHUSDT", "SOL/USDT": "SOLUSDT"}
FAULTS = ("none", "429", "5xx", "malformed", "empty", "duplicate", "corrupt_nan", "corrupt_negative", "down", "slow")


def arm(server, fault: str, rng: random.Random, day: pd.Timestamp) -> None:  # type: ignore[no-untyped-def]
    """Arm one fault for the next run (the faults stay transient: they are cleared after the run)."""
    symbol = rng.choice(list(SYMBOLS))
    if fault == "429":
        server.faults.fail_next(rng.randint(1, 3), status=429, retry_after=0)
    elif fault == "5xx":
        server.faults.fail_next(rng.randint(1, 3), status=rng.choice([500, 502, 503]))
    elif fault == "malformed":
        server.faults.malformed_next(1)
    elif fault == "empty":
        server.faults.empty_next(1)
    elif fault == "duplicate":
        server.faults.duplicate(symbol, day.to_pydatetime())
    elif fault in ("corrupt_nan", "corrupt_negative"):
        value = float("nan") if fault == "corrupt_nan" else -1.0
        server.faults.corrupt(symbol, day.to_pydatetime(), field=rng.choice(["close", "low", "open"]), value=value)
    elif fault == "down":
        server.faults.fail_next(10**6, status=503)
    elif fault == "slow":
        server.faults.set_latency(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2025-01-01", help="first replayed day")
    parser.add_argument("--fault-rate", type=float, default=0.3, help="share of runs with a fault")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file in --out")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="soak_"))
    out.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{out / 'soak.db'}"
    os.environ["FORECASTER_DATABASE_URL"] = url
    os.environ["FORECASTER_DATA_DIR"] = str(out / "data")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("FORECASTER_RETRY_INITIAL_DELAY_S", "0.05")  # keep backoff short in a replay

    from prefect.logging import disable_run_logger
    from prefect.testing.utilities import prefect_test_harness
    from sqlalchemy import func, select

    from flows.daily import daily
    from forecaster.db.engine import make_engine, session_factory
    from forecaster.db.migrate import upgrade
    from forecaster.db.models import Candle, Checkpoint, Forecast, ModelVersion, Run
    from forecaster.exchange.loopback import LoopbackExchange
    from forecaster.model.config import ModelConfig, TrainConfig
    from forecaster.pipeline.config import JobConfig
    from forecaster.series import SeriesKey
    from tests.support.faults import Faults

    sources = {symbol: read_pair(name) for symbol, name in SYMBOLS.items()}
    job = JobConfig(
        model=ModelConfig(lookback=20, horizon=3, lstm_hidden=16, gru_hidden=8),
        train=TrainConfig(window_days=240, val_days=30, max_epochs=3, finetune_epochs=1, accelerator="cpu"),
    )
    pairs = [SeriesKey("binance", symbol) for symbol in SYMBOLS]
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    rng = random.Random(args.seed)
    start = pd.Timestamp(args.start, tz="UTC")
    days = [start + pd.Timedelta(days=i) for i in range(args.days)]
    history_start = start - pd.Timedelta(days=job.history_days + 30)
    served = {symbol: frame[frame["ts"] >= history_start] for symbol, frame in sources.items()}
    outcomes: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    began = time.perf_counter()
    first_clock = (days[0] + pd.Timedelta(days=1, minutes=10)).to_pydatetime()
    with (
        prefect_test_harness(server_startup_timeout=120),
        disable_run_logger(),
        LoopbackExchange(served, now=first_clock, faults=Faults()) as server,
    ):
        for number, day in enumerate(days, start=1):
            server.faults.clear()
            server.set_clock((day + pd.Timedelta(days=1, minutes=10)).to_pydatetime())
            fault = rng.choice(FAULTS[1:]) if rng.random() < args.fault_rate else "none"
            arm(server, fault, rng, day)
            faults[fault] += 1
            state = daily(pairs=pairs, job=job, api_url=server.url, return_state=True)
            outcomes["completed" if state.is_completed() else "failed"] += 1
            if number % 10 == 0 or number == len(days):
                spent = time.perf_counter() - began
                print(f"day {number}/{len(days)} {day:%Y-%m-%d}: {dict(outcomes)} ({spent:.0f} s)")
        # The next day's run, fault-free, at the last day's clock: what a refused candle of the last day
        # needs to heal (an incremental run asks again for the recent missing ones).
        server.faults.clear()
        final = daily(pairs=pairs, job=job, api_url=server.url, return_state=True)
        outcomes["final clean run " + ("completed" if final.is_completed() else "failed")] += 1
    wall = time.perf_counter() - began

    problems: list[str] = []
    last = days[-1]
    with sessions() as session:
        for symbol, frame in sources.items():
            stored = pd.DataFrame(
                session.execute(
                    select(Candle.ts, Candle.open, Candle.high, Candle.low, Candle.close, Candle.volume).where(
                        Candle.symbol == symbol
                    )
                ).all(),
                columns=["ts", "open", "high", "low", "close", "volume"],
            )
            stored["ts"] = pd.to_datetime(stored["ts"], utc=True)
            expected = frame[(frame["ts"] >= history_start) & (frame["ts"] <= last)].reset_index(drop=True)
            merged = expected.merge(stored, on="ts", how="outer", suffixes=("", "_db"), indicator=True)
            if (merged["_merge"] != "both").any():
                problems.append(f"{symbol}: {int((merged['_merge'] != 'both').sum())} candles differ in presence")
            both = merged[merged["_merge"] == "both"]
            for column in ["open", "high", "low", "close", "volume"]:
                if not (both[column] - both[f"{column}_db"]).abs().le(1e-9 * both[column].abs()).all():
                    problems.append(f"{symbol}: stored {column} differs from the source")
        sets = session.execute(
            select(Forecast.symbol, Forecast.as_of, Forecast.model, func.count()).group_by(
                Forecast.symbol, Forecast.as_of, Forecast.model
            )
        ).all()
        partial = [row for row in sets if row[3] != job.model.horizon]
        if partial:
            problems.append(f"{len(partial)} forecast sets without exactly {job.model.horizon} horizons")
        unstored = session.scalar(
            select(func.count())
            .select_from(ModelVersion)
            .outerjoin(Checkpoint, Checkpoint.model_version_id == ModelVersion.id)
            .where(Checkpoint.model_version_id.is_(None), ModelVersion.pruned_at.is_(None))
        )
        if unstored:
            problems.append(f"{unstored} model versions (not pruned) without their stored checkpoint")
        statuses = Counter(session.scalars(select(Run.status)))
        if set(statuses) - {"completed", "failed"}:
            problems.append(f"runs left unfinished: {dict(statuses)}")
        as_of_days = {(row[0], row[1]) for row in sets}
    candle_days = sum(len(frame[(frame["ts"] >= start) & (frame["ts"] <= last)]) for frame in sources.values())
    results = {
        "days": len(days),
        "symbols": len(SYMBOLS),
        "wall_s": round(wall, 1),
        "runs": dict(outcomes),
        "faults": dict(faults),
        "forecast_days": len(as_of_days),
        "candle_days_in_range": candle_days,
        "problems": problems,
    }
    (out / "soak.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    if problems:
        raise SystemExit("PROBLEMS: " + "; ".join(problems))
    print("OK: candles equal the source, one forecast set per model and as-of day")


if __name__ == "__main__":
    main()
