"""Model benchmarks on real BTC/USDT daily candles, default ``ModelConfig()`` / ``TrainConfig()``, one CPU thread.

1. Training throughput on the reference work (60-day windows of MinMax-scaled closes -> the next close, batch
   32, ``--epochs`` 20, no early stopping): ``forecaster.model.train.train`` (float32, and bfloat16), all of it
   (windows, Trainer, validation every epoch, intervals), against a plain PyTorch loop of the same network over
   the same training windows (its own ``forward``, the module's shuffled loader, Adam, MSE, no validation).
   Rounds are interleaved (plain, train float32, train bfloat16, plain, ...) after one untimed warm-up fit of
   each; the speed-up is the plain loop's time over ``train``'s in the same round (wall; CPU time beside it).
2. Wall time of a full retrain (``train(..., TrainConfig(accelerator="cpu"))``, early stopping as configured) and
   of a fine-tune of it (``parent=``, next day's as-of), for several as-of dates.
3. ``forecast`` latency (H = 7), with a breakdown into its steps (the functions ``forecast`` calls, timed in place).
4. Peak RSS of a full retrain in a fresh subprocess, and the checkpoint size (``save_checkpoint``).

    nice python -m benchmarks.bench_model --repeats 3 --out /tmp/bench_model.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from torch import nn

from benchmarks.shared_data import pair_path, read_pair
from forecaster.model import predict
from forecaster.model.artifact import TrainedModel
from forecaster.model.config import ModelConfig, Precision, TrainConfig
from forecaster.model.data import CandleDataModule
from forecaster.model.features import ONE_DAY, check_as_of
from forecaster.model.network import BiLSTMGRU
from forecaster.model.predict import forecast
from forecaster.model.train import seed_everything, train
from forecaster.registry.checkpoint import save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = pair_path("BTCUSDT")
DEFAULT_DATES = ("2024-06-30", "2025-06-30", "2025-12-31")
QUIET_WARNINGS = (
    r".*does not have many workers.*",
    r".*isinstance\(treespec, LeafSpec\).*",
    r".*defined a `validation_step` but have no `val_dataloader`.*",  # no validation in either loop, on purpose
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (1) and repeats (2)")
    parser.add_argument("--out", type=Path, help="write every figure as JSON")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="candle CSV (timestamp,open,...,volume)")
    parser.add_argument("--as-of", default="2025-12-31", help="as-of of the throughput windows and the forecasts")
    parser.add_argument("--window-days", type=int, default=730, help="window of the throughput comparison")
    parser.add_argument("--epochs", type=int, default=20, help="fixed epochs of the throughput comparison")
    parser.add_argument("--dates", nargs="+", default=list(DEFAULT_DATES), help="as-of dates of the retrain timings")
    parser.add_argument("--forecast-calls", type=int, default=200)
    parser.add_argument("--seed", type=int, default=TrainConfig().seed)
    parser.add_argument("--parts", type=int, nargs="+", choices=(1, 2, 3, 4), default=[1, 2, 3, 4], help="what to run")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# helpers


def utc_day(text: str) -> pd.Timestamp:
    return check_as_of(pd.Timestamp(text, tz="UTC"))


def quiet() -> None:
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for message in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=message)


def timed(step: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = step()
    return time.perf_counter() - started, result


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def proc_status_mib(field: str) -> float:
    """A memory line of /proc/self/status (Linux): ``VmRSS`` now, ``VmHWM`` the peak since exec or last reset."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> bool:
    """Reset this process's ``VmHWM`` to its current RSS (Linux >= 4.0); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def memory_now() -> dict[str, float]:
    return {
        "rss": proc_status_mib("VmRSS"),
        "hwm": proc_status_mib("VmHWM"),
        # ru_maxrss survives fork + exec on Linux: a child starts with its parent's peak, so it is kept for the
        # record only; VmHWM belongs to this process's own address space
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "nice": os.nice(0),
        "load_avg_start": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pytorch_lightning": pl.__version__,
        "pandas": version("pandas"),
        "numpy": version("numpy"),
    }


# 1. training throughput: train() on the reference work against a plain PyTorch loop

# the reference work: 60-day windows of MinMax-scaled closes -> the next close
REFERENCE_MODEL = ModelConfig(features=("close",), target="close", scaling="minmax", horizon=1, shrink=False)
PRECISIONS: tuple[Precision, ...] = ("float32", "bfloat16")


def clocks() -> tuple[float, float]:
    """Wall time, and CPU time of this process (all threads): on a shared machine the second leaves out the time
    spent waiting for a core."""
    return time.perf_counter(), time.process_time()


def reference_train_config(args: argparse.Namespace, epochs: int, precision: Precision = "float32") -> TrainConfig:
    """Batch 32, ``epochs`` epochs; patience = epochs, so early stopping never ends a fit before the last epoch."""
    return TrainConfig(
        accelerator="cpu",
        window_days=args.window_days,
        batch_size=32,
        max_epochs=epochs,
        patience=epochs,
        precision=precision,
        seed=args.seed,
    )


def network_args(model_cfg: ModelConfig) -> tuple[int, int, int, int, float]:
    cfg = model_cfg
    return len(cfg.features), cfg.horizon, cfg.lstm_hidden, cfg.gru_hidden, cfg.dropout


def fit_plain(data: CandleDataModule, learning_rate: float, epochs: int, seed: int) -> dict[str, float]:
    """The reference: a hand-written loop of the same network through its own ``forward`` (autograd's GRU,
    ``nn.Dropout``), the module's loader (batch 32, shuffled), Adam at the same rate, MSE, no validation.
    The timing covers the network, the loader, the optimiser and the epochs (the windows are built before)."""
    seed_everything(seed)
    wall, cpu = clocks()
    net = BiLSTMGRU(*network_args(REFERENCE_MODEL))
    loader = data.train_dataloader()
    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate)
    loss_fn = nn.MSELoss()
    net.train()
    total, count = torch.zeros(()), 0
    for _ in range(epochs):
        total, count = torch.zeros(()), 0
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(net(x), y)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(x)
            count += len(x)
    end_wall, end_cpu = clocks()
    return {"seconds": end_wall - wall, "cpu_seconds": end_cpu - cpu, "last_epoch_train_loss": float(total / count)}


def fit_train(candles: pd.DataFrame, train_cfg: TrainConfig, as_of: pd.Timestamp) -> dict[str, float]:
    """``forecaster.model.train.train``, all of it: windows, Trainer, validation every epoch, intervals."""
    seed_everything(train_cfg.seed)
    wall, cpu = clocks()
    model = train(candles, as_of, REFERENCE_MODEL, train_cfg)
    end_wall, end_cpu = clocks()
    assert model.epochs == train_cfg.max_epochs, f"{model.epochs} epochs: early stopping ended the fit"
    return {
        "seconds": end_wall - wall,
        "cpu_seconds": end_cpu - cpu,
        "last_epoch_train_loss": model.train_loss_history[-1],
        "val_loss": model.val_loss,
    }


def bench_throughput(candles: pd.DataFrame, args: argparse.Namespace) -> dict[str, Any]:
    as_of = utc_day(args.as_of)
    data = CandleDataModule(candles, as_of, REFERENCE_MODEL, reference_train_config(args, args.epochs))
    data.setup("fit")
    assert data.train_windows is not None
    n_windows = len(data.train_windows)

    def plain(epochs: int) -> dict[str, float]:
        return fit_plain(data, TrainConfig().learning_rate, epochs, args.seed)

    def with_train(precision: Precision) -> Callable[[int], dict[str, float]]:
        return lambda epochs: fit_train(candles, reference_train_config(args, epochs, precision), as_of)

    fits = {"plain": plain, **{f"train_{precision}": with_train(precision) for precision in PRECISIONS}}
    for fit in fits.values():  # untimed warm-up: first-call allocations, lazy imports
        fit(1)
    rounds: list[dict[str, Any]] = []
    for index in range(args.repeats):
        row: dict[str, Any] = {"round": index + 1}
        for name, fit in fits.items():  # interleaved: plain, train float32, train bfloat16, plain, ...
            row[name] = fit(args.epochs)
        for name in fits:
            row[name]["speedup"] = row["plain"]["seconds"] / row[name]["seconds"]
            row[name]["cpu_speedup"] = row["plain"]["cpu_seconds"] / row[name]["cpu_seconds"]
        print(
            f"  round {index + 1}: plain {row['plain']['seconds']:.2f} s; "
            + "; ".join(
                f"{name} {row[name]['seconds']:.2f} s"
                f" ({row[name]['speedup']:.2f}x, CPU {row[name]['cpu_speedup']:.2f}x)"
                for name in fits
                if name != "plain"
            ),
            flush=True,
        )
        rounds.append(row)
    summary: dict[str, Any] = {"windows": n_windows, "epochs": args.epochs, "rounds": rounds}
    for name in fits:
        runs = [r[name] for r in rounds]
        summary[name] = {
            "median_seconds": median([r["seconds"] for r in runs]),
            "windows_per_s": n_windows * args.epochs / median([r["seconds"] for r in runs]),
            "speedup_median": median([r["speedup"] for r in runs]),
            "cpu_speedup_median": median([r["cpu_speedup"] for r in runs]),
            "last_epoch_train_loss": median([r["last_epoch_train_loss"] for r in runs]),
        }
    return summary


# 2. full retrain and fine-tune


def bench_retrain(candles: pd.DataFrame, args: argparse.Namespace) -> tuple[list[dict[str, Any]], TrainedModel]:
    model_cfg, train_cfg = ModelConfig(), TrainConfig(accelerator="cpu")
    results = []
    last_full: TrainedModel | None = None
    for text in args.dates:
        as_of = utc_day(text)
        runs: dict[str, list[dict[str, Any]]] = {"full": [], "finetune": []}
        for _ in range(args.repeats):
            seed_everything(args.seed)
            seconds, full = timed(lambda as_of=as_of: train(candles, as_of, model_cfg, train_cfg))
            runs["full"].append({"seconds": seconds, "epochs": full.epochs, "val_loss": full.val_loss})
            seed_everything(args.seed)
            seconds, tuned = timed(
                lambda as_of=as_of, full=full: train(candles, as_of + ONE_DAY, model_cfg, train_cfg, parent=full)
            )
            runs["finetune"].append({"seconds": seconds, "epochs": tuned.epochs, "val_loss": tuned.val_loss})
            last_full = full
        row = {"as_of": text, "runs": runs}
        for mode, items in runs.items():
            row[mode] = {
                "median_seconds": median([r["seconds"] for r in items]),
                "epochs": sorted({r["epochs"] for r in items}),
                "val_loss": items[-1]["val_loss"],
            }
        print(
            f"  {text}: full {row['full']['median_seconds']:.2f} s ({row['full']['epochs']} epochs),"
            f" fine-tune {row['finetune']['median_seconds']:.2f} s",
            flush=True,
        )
        results.append(row)
    assert last_full is not None
    return results, last_full


# 3. forecast latency


# The functions ``predict.forecast`` calls, timed in place while the real ``forecast`` runs: (owner, name).
FORECAST_STEPS: dict[str, tuple[Any, str]] = {
    "history": (predict, "recent_history"),
    "features": (predict, "feature_frame"),
    "build_network": (TrainedModel, "network"),
    "forward": (predict, "predict_prices"),  # the network's pass, back to prices, the shrinkage
    "intervals": (predict, "apply_intervals"),
}


@contextmanager
def timing_steps(spent: dict[str, float]) -> Iterator[None]:
    """While inside, every call of a ``FORECAST_STEPS`` function adds its seconds to ``spent[step]``."""
    originals = {step: getattr(owner, name) for step, (owner, name) in FORECAST_STEPS.items()}

    def timer(step: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[step] += time.perf_counter() - began

        return timed_call

    for step, (owner, name) in FORECAST_STEPS.items():
        setattr(owner, name, timer(step, originals[step]))
    try:
        yield
    finally:
        for step, (owner, name) in FORECAST_STEPS.items():
            setattr(owner, name, originals[step])


def forecast_steps(model: TrainedModel, candles: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, float]:
    """One real ``forecast`` call, its seconds split by step; ``rest``: scaling, tensors and the result frame."""
    spent = dict.fromkeys(FORECAST_STEPS, 0.0)
    with timing_steps(spent):
        began = time.perf_counter()
        forecast(model, candles, as_of)
        total = time.perf_counter() - began
    return {**spent, "rest": total - sum(spent.values()), "total": total}


def bench_forecast(model: TrainedModel, candles: pd.DataFrame, args: argparse.Namespace) -> dict[str, Any]:
    as_of = utc_day(args.as_of)
    for _ in range(20):
        forecast(model, candles, as_of)
    calls = [timed(lambda: forecast(model, candles, as_of))[0] for _ in range(args.forecast_calls)]
    steps = [forecast_steps(model, candles, as_of) for _ in range(args.forecast_calls)]
    total_steps = sum(s["total"] for s in steps)
    result: dict[str, Any] = {
        "calls": args.forecast_calls,
        "median_ms": 1000 * median(calls),
        "p95_ms": 1000 * percentile(calls, 95),
        "max_ms": 1000 * max(calls),
        "steps_median_total_ms": 1000 * median([s["total"] for s in steps]),
        "steps": {
            name: {
                "median_ms": 1000 * median([s[name] for s in steps]),
                "share": sum(s[name] for s in steps) / total_steps,
            }
            for name in steps[0]
            if name != "total"
        },
    }
    print(f"  forecast: median {result['median_ms']:.2f} ms, p95 {result['p95_ms']:.2f} ms", flush=True)
    return result


# 4. peak memory (child process) and checkpoint size


def memory_child(args: argparse.Namespace) -> None:
    """Runs in a fresh interpreter: RSS after imports and data, then the peak RSS during one full retrain."""
    after_imports = memory_now()
    candles = read_pair(args.data)
    before = memory_now()
    reset = reset_peak_rss()
    seed_everything(args.seed)
    seconds, model = timed(lambda: train(candles, utc_day(args.as_of), ModelConfig(), TrainConfig(accelerator="cpu")))
    after = memory_now()
    peak = max(before["hwm"], after["hwm"])
    print(
        json.dumps(
            {
                "after_imports_mib": after_imports,
                "before_train_mib": before,
                "after_train_mib": after,
                "peak_reset_before_train": reset,
                "peak_rss_mib": peak,
                "train_peak_rss_mib": after["hwm"] if reset else None,
                "train_seconds": seconds,
                "epochs": model.epochs,
            }
        )
    )


def bench_memory(model: TrainedModel, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.bench_model", "--memory-child", "--data", str(args.data)]
    command += ["--as-of", args.as_of, "--seed", str(args.seed)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    child = json.loads(done.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.pt"
        save_checkpoint(model, path)
        size = path.stat().st_size
    params = sum(value.numel() for value in model.state_dict.values())
    train_peak = child["train_peak_rss_mib"]
    result = {
        "child": child,
        "peak_rss_mib": child["peak_rss_mib"],
        "after_imports_rss_mib": child["after_imports_mib"]["rss"],
        "before_train_rss_mib": child["before_train_mib"]["rss"],
        # peak during the retrain over the RSS just before it (None where the peak could not be reset)
        "train_delta_mib": None if train_peak is None else train_peak - child["before_train_mib"]["rss"],
        "after_train_rss_mib": child["after_train_mib"]["rss"],
        "checkpoint_bytes": size,
        "parameters": params,
    }
    print(f"  peak RSS {result['peak_rss_mib']:.0f} MiB, checkpoint {size / 1024:.1f} KiB", flush=True)
    return result


# report


def throughput_rows(thr: dict[str, Any]) -> list[tuple[str, str]]:
    epochs, plain, repeats = thr["epochs"], thr["plain"], len(thr["rounds"])
    rows = [
        ("reference work: training windows x epochs", f"{thr['windows']} x {epochs} (batch 32, one torch thread)"),
        (
            f"plain PyTorch loop, windows x epochs / s (median of {repeats})",
            f"{plain['windows_per_s']:,.0f}",
        ),
    ]
    for precision in PRECISIONS:
        fig = thr[f"train_{precision}"]
        rounds = ", ".join(format(r[f"train_{precision}"]["speedup"], ".2f") for r in thr["rounds"])
        rows.append(
            (
                f"**`train`, {precision}: windows x epochs / s; x the plain loop** (wall, median of rounds)",
                f"{fig['windows_per_s']:,.0f}; **{fig['speedup_median']:.2f}x** ({rounds}); CPU time"
                f" {fig['cpu_speedup_median']:.2f}x",
            )
        )
    losses = ", ".join(
        f"{name} {thr[name]['last_epoch_train_loss']:.2e}" for name in ("plain", *(f"train_{p}" for p in PRECISIONS))
    )
    rows.append(("last epoch's training MSE (scaled)", losses))
    return rows


def retrain_rows(retrain: list[dict[str, Any]]) -> list[tuple[str, str]]:
    rows = []
    for row in retrain:
        for mode, label in (("full", f"full retrain, as of {row['as_of']}"), ("finetune", "fine-tune, next day")):
            figures = row[mode]
            epochs = "/".join(str(e) for e in figures["epochs"])
            rows.append((f"{label} (median)", f"{figures['median_seconds']:.2f} s, {epochs} epoch(s)"))
    return rows


def forecast_rows(fc: dict[str, Any]) -> list[tuple[str, str]]:
    shares = ", ".join(f"{name} {s['share']:.0%}" for name, s in fc["steps"].items())
    return [
        (f"forecast H=7, {fc['calls']} calls: median / p95", f"{fc['median_ms']:.2f} ms / {fc['p95_ms']:.2f} ms"),
        (
            f"forecast time by step (the library's steps timed in place, median {fc['steps_median_total_ms']:.2f} ms)",
            shares,
        ),
    ]


def memory_rows(mem: dict[str, Any]) -> list[tuple[str, str]]:
    delta = "n/a" if mem["train_delta_mib"] is None else f"{mem['train_delta_mib']:.0f}"
    return [
        (
            "peak RSS of a full retrain (fresh process, VmHWM)",
            f"{mem['peak_rss_mib']:.0f} MiB (after imports {mem['after_imports_rss_mib']:.0f} MiB,"
            f" + data {mem['before_train_rss_mib']:.0f} MiB, retrain peak +{delta} MiB,"
            f" after it {mem['after_train_rss_mib']:.0f} MiB)",
        ),
        ("checkpoint file", f"{mem['checkpoint_bytes'] / 1024:.1f} KiB ({mem['parameters']:,} parameters)"),
    ]


def report(figures: dict[str, Any]) -> str:
    makers: dict[str, Callable[[Any], list[tuple[str, str]]]] = {
        "throughput": throughput_rows,
        "retrain": retrain_rows,
        "forecast": forecast_rows,
        "memory": memory_rows,
    }
    rows = [row for name, make in makers.items() if name in figures for row in make(figures[name])]
    return "\n".join(["| measure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    quiet()
    if args.memory_child:
        memory_child(args)
        return 0
    given = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "-m", "benchmarks.bench_model", *given])
    info = machine()
    print(f"command: {command}")
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()), flush=True)
    started = time.perf_counter()
    candles = read_pair(args.data)
    figures: dict[str, Any] = {"command": command, "machine": info}

    if 1 in args.parts:
        print("\n1. training throughput: train() on the reference work against a plain PyTorch loop", flush=True)
        figures["throughput"] = bench_throughput(candles, args)
    model = None
    if 2 in args.parts:
        print("2. full retrain and fine-tune", flush=True)
        figures["retrain"], model = bench_retrain(candles, args)
    if {3, 4} & set(args.parts) and (model is None or model.train_end != utc_day(args.as_of)):
        seed_everything(args.seed)  # forecasts and the checkpoint use the model of --as-of
        model = train(candles, utc_day(args.as_of), ModelConfig(), TrainConfig(accelerator="cpu"))
    if 3 in args.parts:
        assert model is not None
        print("3. forecast latency", flush=True)
        figures["forecast"] = bench_forecast(model, candles, args)
    if 4 in args.parts:
        assert model is not None
        print("4. peak memory and checkpoint size", flush=True)
        figures["memory"] = bench_memory(model, args)

    info["load_avg_end"] = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    info["torch_threads_end"] = torch.get_num_threads()
    info["wall_seconds"] = round(time.perf_counter() - started, 1)
    print(f"\nload average at the end: {info['load_avg_end']}; torch threads {info['torch_threads_end']}")
    print(f"total wall time: {info['wall_seconds']:.0f} s\n")
    print(report(figures))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2, default=str))
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
