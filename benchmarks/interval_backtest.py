"""Issue 13's evidence: 365-day walk-forward backtests of several symbols and seeds, pooled.

    python -m benchmarks.interval_backtest [--symbols BTCUSDT,ETHUSDT,SOLUSDT] [--seeds 42,7] [--lanes 2]
        [--out DIR] [--job JSON] [--tag NAME]

Runs ``benchmarks.bench_backtest`` (the product's own backtest: the daily job's steps, day by day) for every
symbol and seed into ``DIR/<tag>_<symbol>_<seed>/`` (``--lanes`` at a time; a run whose ``results.json`` exists
is reused), then reads every run's ``forecast_scores`` and prints, pooled over all runs, per model and
horizon: MAE and interval score against naive's, and coverage, overall and per volatility tercile (calm,
normal, stormy: the trailing 30-day realised volatility of each as-of day, split into thirds per run).

Pooling is scale-free: every error and interval score is divided by its actual price before summing, so that
BTC (about 100,000 USDT) does not drown SOL (about 150). Ratios below 1 beat naive. Interval score: Winkler at
the interval's level (width + 2/alpha x the miss).

``--variants`` also replays the model's intervals under other calibration settings on the same forecasts
(the point forecasts do not depend on them): scale flat or volatility, ACI step 0 or the default. A replayed
day uses the variant's track-record calibration wherever the product used the track record, and the issued
interval elsewhere.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sqlalchemy import create_engine, text

from forecaster.model.calibration import forecast_scales, serving_calibration
from forecaster.model.config import ModelConfig
from forecaster.model.intervals import LEDGER_DAYS, apply_intervals
from forecaster.report.markdown import markdown_table

TERCILES = ("calm", "normal", "stormy")
VARIANTS = [  # (interval_residuals, interval_scale, interval_gamma); the default first
    ("history", "flat", 0.005),
    ("history", "flat", 0.0),
    ("history", "volatility", 0.005),
    ("history", "garch", 0.005),
    ("track_record", "flat", 0.005),
]


def run_one(out: Path, symbol: str, seed: int, job: dict) -> Path:
    folder = out / f"{symbol}_{seed}"
    if (folder / "results.json").exists():
        return folder
    overrides = json.loads(json.dumps(job))
    overrides.setdefault("train", {})["seed"] = seed
    command = [sys.executable, "-m", "benchmarks.bench_backtest", "--symbol", symbol, "--out", str(folder)]
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "log.txt", "w") as log:
        subprocess.run([*command, "--job", json.dumps(overrides)], stdout=log, stderr=subprocess.STDOUT, check=True)
    return folder


def scores(folder: Path) -> pd.DataFrame:
    """The run's scored backtest forecasts, with each as-of day's volatility tercile."""
    engine = create_engine(f"sqlite:///{folder / 'backtest.db'}")
    with engine.connect() as connection:
        frame = pd.read_sql(text("SELECT * FROM forecast_scores WHERE run_kind = 'backtest'"), connection)
        candles = pd.read_sql(text("SELECT ts, close FROM candles ORDER BY ts"), connection)
    candles["ts"] = pd.to_datetime(candles["ts"], utc=True)
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"]).dt.tz_localize("UTC")
    close = candles.set_index("ts")["close"]
    close = close.reindex(pd.date_range(close.index[0], close.index[-1], freq="D"))
    realised = np.log(close).diff().rolling(30, min_periods=20).std()
    frame["volatility"] = realised.reindex(frame["as_of_date"]).to_numpy()
    days = frame.drop_duplicates("as_of_date")["volatility"]
    cuts = np.nanquantile(days, [1 / 3, 2 / 3])
    frame["tercile"] = pd.cut(frame["volatility"], [-np.inf, *cuts, np.inf], labels=list(TERCILES))
    frame["run"] = folder.name
    return frame


def pooled(frame: pd.DataFrame) -> pd.DataFrame:
    """Per model and horizon: scale-free MAE and interval-score ratios to naive, coverage, n."""
    f = frame.dropna(subset=["naive_abs_error"]).copy()
    f["rel_ae"], f["rel_naive_ae"] = f["abs_error"] / f["actual"], f["naive_abs_error"] / f["actual"]
    f["rel_is"], f["rel_naive_is"] = f["interval_score"] / f["actual"], f["naive_interval_score"] / f["actual"]
    rows = []
    for (model, horizon), g in f.groupby(["model", "horizon"]):
        paired = g.dropna(subset=["rel_is", "rel_naive_is"])
        row = {
            "model": model,
            "h": horizon,
            "n": len(g),
            "mae_vs_naive": g["rel_ae"].sum() / g["rel_naive_ae"].sum(),
            "is_vs_naive": paired["rel_is"].sum() / paired["rel_naive_is"].sum() if len(paired) else np.nan,
            "coverage": g["inside_interval"].astype(float).mean(),
        }
        for tercile in TERCILES:
            row[f"cov_{tercile}"] = g.loc[g["tercile"] == tercile, "inside_interval"].astype(float).mean()
        rows.append(row)
    return pd.DataFrame(rows)


def per_run(frame: pd.DataFrame, model: str = "bilstm_gru") -> pd.DataFrame:
    """The model's ratios per run (symbol and seed) at horizons 1 and 7: the spread behind the pooled figures."""
    parts = []
    for run, g in frame.groupby("run"):
        table = pooled(g)
        table = table.loc[(table["model"] == model) & table["h"].isin([1, 7])]
        parts.append(table.assign(run=run)[["run", "h", "mae_vs_naive", "is_vs_naive", "coverage"]])
    return pd.concat(parts, ignore_index=True)


def winkler(actual: ArrayLike, lower: ArrayLike, upper: ArrayLike, level: float) -> np.ndarray:
    """The Winkler interval score of each forecast (the views' ``interval_score``): width + 2/alpha x the miss."""
    actual, lower, upper = (np.asarray(v, dtype=float) for v in (actual, lower, upper))
    factor = 2.0 / (1.0 - level)
    return upper - lower + factor * np.maximum(lower - actual, 0) + factor * np.maximum(actual - upper, 0)


def replay(folder: Path, model_cfg: ModelConfig, window_days: int = 730) -> pd.DataFrame:
    """The model's forecasts of one run with intervals re-calibrated as ``model_cfg`` says, through the product's
    own ``serving_calibration`` (the issued interval where it gives none: the fit's own)."""
    horizon, level, basis = model_cfg.horizon, model_cfg.interval_level, model_cfg.interval_scale
    engine = create_engine(f"sqlite:///{folder / 'backtest.db'}")
    with engine.connect() as connection:
        f = pd.read_sql(
            text(
                "SELECT s.as_of_date, s.target_date, s.horizon, s.yhat, s.yhat_lower, s.yhat_upper, s.actual, "
                "s.naive_interval_score FROM forecast_scores s WHERE s.model = 'bilstm_gru' AND "
                "s.run_kind = 'backtest' ORDER BY s.as_of_date, s.horizon"
            ),
            connection,
        )
        candles = pd.read_sql(text("SELECT ts, open, high, low, close, volume FROM candles ORDER BY ts"), connection)
    candles["ts"] = pd.to_datetime(candles["ts"], utc=True)
    f["as_of"] = pd.to_datetime(f["as_of_date"]).dt.tz_localize("UTC")
    f["target_ts"] = pd.to_datetime(f["target_date"]).dt.tz_localize("UTC")
    lower, upper = f["yhat_lower"].to_numpy().copy(), f["yhat_upper"].to_numpy().copy()
    for day, rows in f.groupby("as_of", sort=True):
        known = f.loc[(f["target_ts"] <= day) & (f["target_ts"] > day - pd.Timedelta(days=LEDGER_DAYS))]
        record = known.assign(yhat_lower=lower[known.index], yhat_upper=upper[known.index])
        record = record.sort_values(["target_ts", "horizon"])
        history = candles.loc[candles["ts"] <= day]
        calibration = serving_calibration(record, history, model_cfg, basis, window_days)
        if calibration is None:
            continue
        yhat = np.full(horizon, np.nan)  # the days at the end miss their far horizons' scores
        yhat[rows["horizon"].to_numpy() - 1] = rows["yhat"].to_numpy()
        lo, hi = apply_intervals(yhat, forecast_scales(history, horizon, basis), calibration.lower, calibration.upper)
        lo, hi = lo[rows["horizon"].to_numpy() - 1], hi[rows["horizon"].to_numpy() - 1]
        lower[rows.index], upper[rows.index] = lo, hi
    f["interval_score"] = winkler(f["actual"].to_numpy(), lower, upper, level)
    f["inside"] = (lower <= f["actual"]) & (f["actual"] <= upper)
    return f


def with_default_intervals(frame: pd.DataFrame, folders: list[Path]) -> pd.DataFrame:
    """``frame`` with the model's interval scores and hits as this checkout's default calibration gives them
    (``replay`` with ``ModelConfig()``): runs made before a calibration change stay comparable, since the
    point forecasts do not depend on it."""
    parts = []
    for folder in folders:
        replayed = replay(folder, ModelConfig())
        parts.append(
            replayed.assign(run=folder.name, as_of_date=pd.to_datetime(replayed["as_of_date"]).dt.tz_localize("UTC"))
        )
    new = pd.concat(parts, ignore_index=True).set_index(["run", "as_of_date", "horizon"])
    model = frame["model"] == "bilstm_gru"
    keys = pd.MultiIndex.from_frame(frame.loc[model, ["run", "as_of_date", "horizon"]])
    frame.loc[model, "interval_score"] = new["interval_score"].reindex(keys).to_numpy()
    frame["inside_interval"] = frame["inside_interval"].astype(float)
    frame.loc[model, "inside_interval"] = new["inside"].reindex(keys).to_numpy(dtype=float)
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", default="BTCUSDT,ETHUSDT,SOLUSDT")
    parser.add_argument("--seeds", default="42,7")
    parser.add_argument("--lanes", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--job", default="{}", help="JobConfig overrides as JSON (as bench_backtest's --job)")
    parser.add_argument("--variants", action="store_true", help="replay the intervals under other settings")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="interval_backtest_"))
    runs = [(s, int(seed)) for s in args.symbols.split(",") for seed in args.seeds.split(",")]
    job = json.loads(args.job)
    with ThreadPoolExecutor(args.lanes) as pool:
        folders = list(pool.map(lambda run: run_one(out, run[0], run[1], job), runs))
    frame = pd.concat([scores(folder) for folder in folders], ignore_index=True)
    frame = with_default_intervals(frame, folders)
    table = pooled(frame)
    print(f"command: python -m benchmarks.interval_backtest {' '.join(sys.argv[1:])}")
    print(f"{len(folders)} runs ({', '.join(f.name for f in folders)}), pooled (scale-free):")
    print(markdown_table(table, digits=4))
    print("\nThe model per run:")
    print(markdown_table(per_run(frame), digits=4))
    walls = [json.loads((folder / "results.json").read_text())["wall_s"] for folder in folders]
    print(f"\nwall per backtest: {min(walls) / 60:.1f}..{max(walls) / 60:.1f} min")
    if args.variants:
        rows = []
        for residuals, basis, gamma in VARIANTS:
            cfg = ModelConfig(interval_residuals=residuals, interval_scale=basis, interval_gamma=gamma)
            replayed = pd.concat([replay(folder, cfg) for folder in folders], ignore_index=True)
            replayed["rel_is"] = replayed["interval_score"] / replayed["actual"]
            replayed["rel_naive_is"] = replayed["naive_interval_score"] / replayed["actual"]
            for h in (1, 7):
                g = replayed.loc[replayed["horizon"] == h].dropna(subset=["rel_naive_is"])
                ratio = g["rel_is"].sum() / g["rel_naive_is"].sum()
                rows.append(
                    {
                        "residuals": residuals,
                        "scale": basis,
                        "gamma": gamma,
                        "h": h,
                        "is_vs_naive": ratio,
                        "coverage": g["inside"].mean(),
                    }
                )
            print(f"  replayed {residuals}, {basis}, gamma {gamma}", file=sys.stderr, flush=True)
        print("\nThe model's intervals replayed under other calibration settings (same point forecasts):")
        print(markdown_table(pd.DataFrame(rows), digits=4))
    frame.to_csv(out / "scores.csv", index=False)
    table.to_csv(out / "pooled.csv", index=False)
    print(f"\nfiles: {out / 'pooled.csv'} {out / 'scores.csv'}")


if __name__ == "__main__":
    main()
