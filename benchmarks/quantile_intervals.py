"""Issue 13's evidence for the quantile head and the volatility inputs: a cheap walk-forward, pooled.

    python -m benchmarks.quantile_intervals [--symbols BTCUSDT,ETHUSDT,SOLUSDT] [--seeds 42,7]
        [--start 2025-03-31] [--end 2026-03-30] [--every 30] [--setups default,vol_features,quantile]
        [--rows CSV] [--report-only] [--data DIR]

For every as-of date ``start, start + every, ...`` up to ``end``, symbol, seed and setup: one full train
(default ``TrainConfig``, CPU, the setup's ``ModelConfig``), then ``forecast`` (the model's own start-up
calibration) as of each of the next ``every`` days (that day included, inputs up to it), scored against the
actual closes; naive (``baseline_forecast("naive")``, empirical-quantile intervals) on the same days. Rows go
to ``--rows`` as they come (a rerun skips the (as-of, symbol, seed, setup) already there), in as-of order, so
a run cut short still compares every setup on the same days.

Printed, per setup pooled over symbols and seeds, at h1 and h7: MAE / naive's MAE and interval score / naive's
(Winkler at alpha 0.2: width + 10 x miss; every error and score divided by its actual price before summing, so
BTC does not drown SOL), the coverage of the 80 % intervals, model's and naive's. Below 1 beats naive. Then, at
h7, coverage and interval score per volatility tercile of the as-of day (calm, normal, stormy).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchmarks.shared_data import DATA, read_pair
from forecaster.model import ModelConfig, TrainConfig, forecast
from forecaster.model.baselines import baseline_forecast
from forecaster.model.train import seed_everything, train
from forecaster.report.markdown import markdown_table

SETUPS: dict[str, ModelConfig] = {
    "default": ModelConfig(),
    "vol_features": ModelConfig(features=("log_return", "range", "abs_return")),
    "quantile": ModelConfig(quantile_head=True, interval_scale="quantile"),
}
LEVEL = 0.8
WINKLER = 2.0 / (1.0 - LEVEL)  # 10
ROWS = Path("/root/quantile/rows.csv")


def scored(frame: pd.DataFrame, closes: pd.Series, as_of: pd.Timestamp) -> pd.DataFrame:
    """``frame`` (a forecast) with the actual close of each target day and the forecast's as-of; rows without
    an actual dropped."""
    out = frame.assign(as_of=as_of, actual=frame["target_ts"].map(closes))
    return out.dropna(subset=["actual"])


def run_cell(
    candles: pd.DataFrame, as_of: pd.Timestamp, setup: str, seed: int, every: int, end: pd.Timestamp
) -> pd.DataFrame:
    """Train ``setup`` as of ``as_of`` and score its forecasts (and naive's) of the next ``every`` as-of days."""
    closes = candles.set_index("ts")["close"].astype(float)
    seed_everything(seed)
    started = time.perf_counter()
    model = train(candles, as_of, SETUPS[setup], TrainConfig(seed=seed, accelerator="cpu"))
    fit_s = time.perf_counter() - started
    parts = []
    for day in pd.date_range(as_of, periods=every, freq="D"):
        if day > end or day not in closes.index:
            continue
        parts.append(scored(forecast(model, candles, day), closes, day).assign(model=setup))
        naive = baseline_forecast("naive", candles, day, horizon=7, interval_level=LEVEL)
        parts.append(scored(naive, closes, day).assign(model=f"naive@{setup}"))
    out = pd.concat(parts, ignore_index=True)
    return out.assign(fit_s=fit_s, epochs=model.epochs, source=model.interval_source)


def with_scores(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with the scale-free error, miss, Winkler score and width of each forecast."""
    rows = rows.assign(
        err=(rows["yhat"] - rows["actual"]).abs() / rows["actual"],
        miss=~rows["actual"].between(rows["yhat_lower"], rows["yhat_upper"]),
    )
    below = np.maximum(rows["yhat_lower"] - rows["actual"], 0.0)
    above = np.maximum(rows["actual"] - rows["yhat_upper"], 0.0)
    rows["score"] = (rows["yhat_upper"] - rows["yhat_lower"] + WINKLER * (below + above)) / rows["actual"]
    rows["width"] = (rows["yhat_upper"] - rows["yhat_lower"]) / rows["actual"]
    return rows


def pooled(rows: pd.DataFrame, horizons: tuple[int, ...] = (1, 7)) -> pd.DataFrame:
    """Per setup and horizon: the ratios to naive on the same days, and the coverages."""
    rows = with_scores(rows)
    table = []
    for setup in [s for s in SETUPS if s in set(rows["model"])]:
        for h in horizons:
            own = rows[(rows["model"] == setup) & (rows["horizon"] == h)]
            naive = rows[(rows["model"] == f"naive@{setup}") & (rows["horizon"] == h)]
            table.append(
                {
                    "setup": setup,
                    "h": h,
                    "n": len(own),
                    "MAE / naive": own["err"].sum() / naive["err"].sum(),
                    "interval score / naive": own["score"].sum() / naive["score"].sum(),
                    "coverage": 1.0 - own["miss"].mean(),
                    "naive coverage": 1.0 - naive["miss"].mean(),
                    "width / naive": own["width"].sum() / naive["width"].sum(),
                }
            )
    return pd.DataFrame(table)


def by_tercile(rows: pd.DataFrame, candles: dict[str, pd.DataFrame], horizon: int = 7) -> pd.DataFrame:
    """Coverage and interval score / naive per setup and volatility tercile of the as-of day (the trailing
    30-day realised volatility, split into thirds per symbol), at ``horizon``."""
    rows = with_scores(rows[rows["horizon"] == horizon])
    rows["symbol"] = rows["cell"].str.split("|").str[1].str.split("/").str[0]
    rows["as_of"] = pd.to_datetime(rows["as_of"], utc=True)
    parts = []
    for symbol, part in rows.groupby("symbol"):
        frame = candles[str(symbol)].set_index("ts")["close"].astype(float)
        vol = np.log(frame).diff().rolling(30).std()
        days = part["as_of"].map(vol)
        edges = np.quantile(days.drop_duplicates(), [1 / 3, 2 / 3])
        parts.append(part.assign(tercile=np.digitize(days, edges)))
    rows = pd.concat(parts)
    table = []
    for setup in [s for s in SETUPS if s in set(rows["model"])]:
        for tercile, name in enumerate(("calm", "normal", "stormy")):
            own = rows[(rows["model"] == setup) & (rows["tercile"] == tercile)]
            naive = rows[(rows["model"] == f"naive@{setup}") & (rows["tercile"] == tercile)]
            table.append(
                {
                    "setup": setup,
                    "tercile": name,
                    "n": len(own),
                    "interval score / naive": own["score"].sum() / naive["score"].sum(),
                    "coverage": 1.0 - own["miss"].mean(),
                    "naive coverage": 1.0 - naive["miss"].mean(),
                    "width / naive": own["width"].sum() / naive["width"].sum(),
                }
            )
    return pd.DataFrame(table)


def complete(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of the (as-of date, symbol, seed) groups that every setup present has run (a run cut short
    leaves its last group partial)."""
    group = rows["cell"].str.rsplit("/", n=1).str[0]
    setups = rows["model"][~rows["model"].str.startswith("naive@")].nunique()
    counts = rows.assign(group=group).groupby("group")["cell"].nunique()
    return rows[group.isin(counts.index[counts == setups])].copy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", default="BTCUSDT,ETHUSDT,SOLUSDT")
    parser.add_argument("--seeds", default="42,7")
    parser.add_argument("--start", default="2025-03-31")
    parser.add_argument("--end", default="2026-03-30")
    parser.add_argument("--every", type=int, default=30)
    parser.add_argument("--setups", default=",".join(SETUPS))
    parser.add_argument("--rows", type=Path, default=ROWS)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of <SYMBOL>.csv (default: ../shared/data)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start, end = pd.Timestamp(args.start, tz="UTC"), pd.Timestamp(args.end, tz="UTC")
    done = pd.read_csv(args.rows) if args.rows.exists() else pd.DataFrame()
    keys = set()
    if not done.empty:
        keys = set(zip(done["cell"].str.split("|").str[0], done["cell"].str.split("|").str[1], strict=True))
    candles = {symbol: read_pair(args.data / f"{symbol}.csv") for symbol in args.symbols.split(",")}
    if not args.report_only:
        args.rows.parent.mkdir(parents=True, exist_ok=True)
        for as_of in pd.date_range(start, end, freq=f"{args.every}D"):
            for symbol, frame in candles.items():
                for seed in (int(s) for s in args.seeds.split(",")):
                    for setup in args.setups.split(","):
                        cell = f"{as_of.date()}|{symbol}/{seed}/{setup}"
                        if (cell.split("|")[0], cell.split("|")[1]) in keys:
                            continue
                        out = run_cell(frame, as_of, setup, seed, args.every, end).assign(cell=cell)
                        out.to_csv(args.rows, mode="a", header=not args.rows.exists(), index=False)
                        print(f"{cell}: fit {out['fit_s'].iloc[0]:.1f} s, {out['epochs'].iloc[0]} epochs", flush=True)
        done = pd.read_csv(args.rows)
    done = complete(done)
    done["horizon"] = done["horizon"].astype(int)
    print(f"{done['cell'].nunique()} fits, {done['as_of'].nunique()} as-of days\n")
    print(markdown_table(pooled(done)))
    print(f"\nh7 by volatility tercile of the as-of day:\n\n{markdown_table(by_tercile(done, candles))}")


if __name__ == "__main__":
    main()
