"""Walk-forward evidence for the default feature set and target of ``forecaster.model``.

For each symbol, as-of date, setup and seed: a full train on the 730-day window ending at the
as-of date, then forecasts from each of the next ``--origins`` days (the same model, inputs up
to each origin) for horizons 1..7, scored against naive persistence. Prints a Markdown table.

    nice python benchmarks/model_selection.py --out /tmp/model_selection
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchmarks.shared_data import read_pair
from forecaster.model.config import ModelConfig, TrainConfig
from forecaster.model.metrics import diebold_mariano
from forecaster.model.predict import forecast
from forecaster.model.train import seed_everything, train

SETUPS: dict[str, ModelConfig] = {
    "reference (close, MinMax)": ModelConfig(features=("close",), target="close", scaling="minmax"),
    "log_return": ModelConfig(features=("log_return",), target="log_return"),
    "log_return+range+volume+body": ModelConfig(
        features=("log_return", "range", "volume_change", "body"), target="log_return"
    ),
}


def score_one(candles: pd.DataFrame, as_of: pd.Timestamp, cfg: ModelConfig, seed: int, origins: int) -> list[dict]:
    seed_everything(seed)
    model = train(candles, as_of, cfg, TrainConfig(accelerator="cpu", seed=seed))
    close = candles.set_index("ts")["close"]
    rows = []
    for k in range(origins):
        origin = as_of + pd.Timedelta(days=k)
        fc = forecast(model, candles, origin)
        for row in fc.itertuples():
            if row.target_ts not in close.index:
                continue
            rows.append(
                {
                    "as_of": as_of,
                    "origin": origin,
                    "horizon": row.horizon,
                    "actual": close[row.target_ts],
                    "yhat": row.yhat,
                    "naive": close[origin],
                    "lower": row.yhat_lower,
                    "upper": row.yhat_upper,
                    "seconds": model.seconds,
                    "epochs": model.epochs,
                }
            )
    return rows


def summarise(errors: pd.DataFrame) -> pd.DataFrame:
    def one(group: pd.DataFrame) -> pd.Series:
        e_model, e_naive = group["actual"] - group["yhat"], group["actual"] - group["naive"]
        h1 = group["horizon"] == 1
        h7 = group["horizon"] == 7
        rmse = lambda e: float(np.sqrt(np.mean(e**2)))  # noqa: E731
        mae = lambda e: float(np.mean(np.abs(e)))  # noqa: E731
        _, p_h1 = diebold_mariano(e_model[h1].to_numpy(), e_naive[h1].to_numpy(), h=1)
        return pd.Series(
            {
                "RMSE/naive h1": rmse(e_model[h1]) / rmse(e_naive[h1]),
                "MAE/naive h1": mae(e_model[h1]) / mae(e_naive[h1]),
                "RMSE/naive h7": rmse(e_model[h7]) / rmse(e_naive[h7]),
                "MAE/naive h7": mae(e_model[h7]) / mae(e_naive[h7]),
                "RMSE/naive all": rmse(e_model) / rmse(e_naive),
                "MAE/naive all": mae(e_model) / mae(e_naive),
                "DM p h1": p_h1,
                "coverage80": float(((group["actual"] >= group["lower"]) & (group["actual"] <= group["upper"])).mean()),
                "train s": float(group.groupby("as_of")["seconds"].first().mean()),
                "epochs": float(group.groupby("as_of")["epochs"].first().mean()),
            }
        )

    return errors.groupby(["symbol", "setup", "seed"]).apply(one, include_groups=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", nargs="+", default=["BTCUSDT", "ETHUSDT"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--dates", type=int, default=10, help="as-of dates spread over 2023-01..2025-09")
    parser.add_argument("--origins", type=int, default=28, help="forecast origins per trained model")
    parser.add_argument("--out", type=Path, default=Path("/tmp/model_selection"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    as_ofs = pd.date_range("2023-01-15", "2025-09-15", periods=args.dates, tz="UTC").normalize()
    rows: list[dict] = []
    started = time.perf_counter()
    for symbol in args.symbols:
        candles = read_pair(symbol)
        for name, cfg in SETUPS.items():
            for seed in args.seeds:
                for as_of in as_ofs:
                    for row in score_one(candles, as_of, cfg, seed, args.origins):
                        rows.append({"symbol": symbol, "setup": name, "seed": seed, **row})
                print(f"{symbol} {name} seed {seed}: {time.perf_counter() - started:.0f} s", flush=True)
    errors = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    errors.to_csv(args.out / "errors.csv", index=False)
    table = summarise(errors)
    table.to_csv(args.out / "summary.csv")
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
