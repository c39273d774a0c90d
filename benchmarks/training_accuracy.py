"""Forecast accuracy of the training implementations, walk-forward on real candles, several seeds.

The fast training pass (``forecaster.model.recurrent``) computes the same function as the network's own
``forward``, to float32 rounding, and draws other dropout masks; ``precision="bfloat16"`` also rounds the
BiLSTM to bfloat16 during training. Twenty epochs amplify any difference, so they are judged by what
matters: the forecasts. For each setup, as-of date and seed, every variant trains a model on the same
730-day window (default ``TrainConfig``, early stopping as configured) and forecasts horizons 1..7 from
each of the next ``--origins`` days; errors are scored against naive persistence.

Variants: ``native`` (training steps through ``BiLSTMGRU.forward``, as before the fast pass: autograd's
GRU, ``nn.Dropout``), ``float32`` (the fast pass) and ``bfloat16`` (the fast pass with a bfloat16 BiLSTM).
Besides the accuracy, the table gives each variant's training CPU seconds per epoch (one torch thread).

    nice python -m benchmarks.training_accuracy --seeds 0 1 2 --dates 6 --out /tmp/training_accuracy
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

import forecaster.model.module as module
from benchmarks.shared_data import DATA
from forecaster.model.config import ModelConfig, Precision, TrainConfig
from forecaster.model.network import BiLSTMGRU
from forecaster.model.predict import forecast
from forecaster.model.recurrent import training_forward
from forecaster.model.train import seed_everything, train

SETUPS: dict[str, ModelConfig] = {
    "default (log_return)": ModelConfig(),
    "log_return, no shrinkage": ModelConfig(shrink=False),  # the network's own forecasts
    "reference (close, MinMax)": ModelConfig(features=("close",), target="close", scaling="minmax"),
}


def native_forward(net: BiLSTMGRU, x: torch.Tensor, *, bf16: bool = False) -> torch.Tensor:
    return net(x)


VARIANTS: dict[str, tuple[Callable[..., torch.Tensor], Precision]] = {
    "native": (native_forward, "float32"),
    "float32": (training_forward, "float32"),
    "bfloat16": (training_forward, "bfloat16"),
}


def load(symbol: str) -> pd.DataFrame:
    frame = pd.read_csv(DATA / f"{symbol}.csv")
    frame["ts"] = pd.to_datetime(frame.pop("timestamp"), utc=True)
    return frame[["ts", "open", "high", "low", "close", "volume"]]


def fit(candles: pd.DataFrame, as_of: pd.Timestamp, cfg: ModelConfig, variant: str, seed: int) -> tuple[Any, float]:
    step, precision = VARIANTS[variant]
    module.training_forward = step
    try:
        seed_everything(seed)
        started = time.process_time()
        model = train(candles, as_of, cfg, TrainConfig(accelerator="cpu", seed=seed, precision=precision))
        return model, time.process_time() - started
    finally:
        module.training_forward = training_forward


def score(candles: pd.DataFrame, model: Any, as_of: pd.Timestamp, origins: int) -> list[dict[str, Any]]:
    close = candles.set_index("ts")["close"]
    rows = []
    for k in range(origins):
        origin = as_of + pd.Timedelta(days=k)
        for row in forecast(model, candles, origin).itertuples():
            if row.target_ts in close.index:
                rows.append(
                    {
                        "origin": origin,
                        "horizon": row.horizon,
                        "actual": close[row.target_ts],
                        "yhat": row.yhat,
                        "naive": close[origin],
                        "inside": row.yhat_lower <= close[row.target_ts] <= row.yhat_upper,
                    }
                )
    return rows


def summarise(errors: pd.DataFrame, fits: pd.DataFrame) -> pd.DataFrame:
    errors = errors.assign(
        abs_model=(errors["actual"] - errors["yhat"]).abs(), abs_naive=(errors["actual"] - errors["naive"]).abs()
    )
    keys = ["setup", "variant"]
    per_fit = errors.groupby([*keys, "as_of", "seed"]).agg(mae=("abs_model", "mean"), naive=("abs_naive", "mean"))
    per_fit["mae_ratio"] = per_fit["mae"] / per_fit["naive"]
    table = per_fit.groupby(keys).agg(mae_vs_naive=("mae_ratio", "mean"))
    h1 = errors[errors["horizon"] == 1].groupby(keys)
    table["mae_vs_naive_h1"] = h1["abs_model"].mean() / h1["abs_naive"].mean()
    table["coverage80"] = errors.groupby(keys)["inside"].mean()
    table["val_loss"] = fits.groupby(keys)["val_loss"].mean()
    table["epochs"] = fits.groupby(keys)["epochs"].mean()
    table["cpu_s_per_epoch"] = (fits["cpu_seconds"] / fits["epochs"]).groupby([fits[k] for k in keys]).mean()
    # paired against native: the same setup, as-of date and seed
    native = per_fit.xs("native", level="variant")["mae"]
    for (setup, variant), group in per_fit.groupby(level=["setup", "variant"]):
        change = group.droplevel(["setup", "variant"])["mae"] / native.xs(setup, level="setup") - 1
        table.loc[(setup, variant), "mae_change_vs_native"] = change.mean()
        table.loc[(setup, variant), "mae_change_se"] = change.std(ddof=1) / np.sqrt(len(change))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbol", default="BTCUSDT")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--dates", type=int, default=6, help="as-of dates spread over 2023-01..2025-09")
    parser.add_argument("--origins", type=int, default=28, help="forecast origins per trained model")
    parser.add_argument("--setups", nargs="+", choices=list(SETUPS), default=list(SETUPS))
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("/tmp/training_accuracy"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    candles = load(args.symbol)
    as_ofs = pd.date_range("2023-01-15", "2025-09-15", periods=args.dates, tz="UTC").normalize()
    errors: list[dict[str, Any]] = []
    fits: list[dict[str, Any]] = []
    started = time.perf_counter()
    for setup in args.setups:
        for as_of in as_ofs:
            for seed in args.seeds:
                for variant in args.variants:  # interleaved, so that the machine's drift hits them alike
                    model, cpu = fit(candles, as_of, SETUPS[setup], variant, seed)
                    key = {"setup": setup, "variant": variant, "as_of": as_of, "seed": seed}
                    fits.append({**key, "cpu_seconds": cpu, "epochs": model.epochs, "val_loss": model.val_loss})
                    errors.extend({**key, **row} for row in score(candles, model, as_of, args.origins))
            print(f"{setup} {as_of:%Y-%m-%d}: {time.perf_counter() - started:.0f} s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(errors).to_csv(args.out / "errors.csv", index=False)
    pd.DataFrame(fits).to_csv(args.out / "fits.csv", index=False)
    table = summarise(pd.DataFrame(errors), pd.DataFrame(fits))
    table.to_csv(args.out / "summary.csv")
    print(table.round(4).to_string())


if __name__ == "__main__":
    main()
