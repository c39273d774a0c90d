"""The garch baseline's intervals against naive's, walk-forward on real daily candles; and one GARCH fit's time.

For every as-of day in ``--start .. --end`` that has a candle, ``baseline_forecast`` gives the naive and garch
forecasts (horizons 1..``--horizon``, ``--level`` intervals, the default 730-day window, exactly as the daily
job calls it) from the candles up to that day; each is scored once its target candle exists. No network, no
database: the CSV files of ``../shared/data`` (``--data``).

Scores, pooled over the pairs: coverage, and the Winkler interval score ``width + 2/alpha * miss``
(``alpha = 1 - level``: at 80 %, width + 10 x the distance by which the actual fell outside), divided by the
as-of close so that every pair weighs alike; the ratio is garch's summed score over naive's on the same
forecasts (below 1: garch is better), as ``interval_score_vs_naive`` in the views. Per pair the ratio is also
given in price terms, the views' own definition.

    python -m benchmarks.baseline_intervals --data ../shared/data

It prints the machine's fit time and a Markdown table; about a minute on a 2-core machine.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.interval_backtest import winkler
from benchmarks.shared_data import DATA, read_pair
from forecaster.model.baselines import baseline_forecast, calendar_closes, empirical_bounds, envelope, hstep_log_returns
from forecaster.model.data import cut_window
from forecaster.model.garch import fit_garch

MODELS = ("naive", "garch")


def fit_seconds(candles: pd.DataFrame, as_of: pd.Timestamp, window_days: int, rounds: int) -> np.ndarray:
    """Wall and CPU seconds (columns) of ``rounds`` GARCH fits on the daily returns of the ``window_days`` days
    ending at ``as_of``."""
    returns = hstep_log_returns(calendar_closes(cut_window(candles, as_of, window_days)), 1)
    seconds = []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        fit_garch(returns, horizon=7)
        seconds.append((time.perf_counter() - wall, time.process_time() - cpu))
    return np.array(seconds)


def widened(candles: pd.DataFrame, as_of: pd.Timestamp, horizon: int, level: float) -> int:
    """How many of naive's horizons the envelope (never narrower further out) widens on this day."""
    raw = empirical_bounds(calendar_closes(cut_window(candles, as_of, 730)), horizon, level)
    lower, upper = envelope(raw)
    return int(np.sum((lower < raw.lower) | (upper > raw.upper)))


def walk_forward(
    pair: str, candles: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, horizon: int, level: float
) -> tuple[pd.DataFrame, list[tuple[float, float]], list[str], list[int]]:
    """Scored forecasts of naive and garch for every as-of day of ``[start, end]`` with a candle; the wall and
    CPU seconds of each garch forecast; the notes of the fallbacks taken; per day, how many of naive's
    horizons the envelope widened."""
    closes = candles.set_index("ts")["close"]
    days = candles.loc[(candles["ts"] >= start) & (candles["ts"] <= end), "ts"]
    rows, seconds, notes, widenings = [], [], [], []
    for as_of in days:
        widenings.append(widened(candles, as_of, horizon, level))
        for model in MODELS:
            wall, cpu = time.perf_counter(), time.process_time()
            frame = baseline_forecast(model, candles, as_of, horizon=horizon, interval_level=level)
            if model == "garch":
                seconds.append((time.perf_counter() - wall, time.process_time() - cpu))
            notes += [f"{pair} {as_of:%Y-%m-%d} {note}" for note in frame.attrs["notes"]]
            frame = frame.assign(pair=pair, model=model, as_of=as_of, close=closes[as_of])
            rows.append(frame.assign(actual=frame["target_ts"].map(closes)))
    scored = pd.concat(rows, ignore_index=True)
    return scored.dropna(subset=["actual"]), seconds, notes, widenings


def interval_scores(frame: pd.DataFrame, level: float) -> pd.DataFrame:
    """``frame`` with ``inside`` and the Winkler ``score`` (price) and ``relative`` (score / as-of close)."""
    score = winkler(frame["actual"], frame["yhat_lower"], frame["yhat_upper"], level)
    inside = (frame["yhat_lower"] <= frame["actual"]) & (frame["actual"] <= frame["yhat_upper"])
    return frame.assign(inside=inside, score=score, relative=score / frame["close"])


def table(scored: pd.DataFrame) -> str:
    """The Markdown table: per horizon, n, both coverages, both mean relative scores, and the ratios."""
    lines = [
        "| horizon | n | coverage naive | coverage garch | interval score naive | interval score garch "
        "| garch / naive, pooled | garch / naive per pair (price) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for horizon, rows in scored.groupby("horizon"):
        wide = rows.pivot_table(index=["pair", "as_of"], columns="model", values=["inside", "score", "relative"])
        wide = wide.dropna()  # the same forecasts for both
        coverage = wide["inside"].mean()
        relative = wide["relative"].mean()
        per_pair = wide["score"].groupby(level="pair", sort=False).sum()
        ratios = ", ".join(f"{pair} {row['garch'] / row['naive']:.3f}" for pair, row in per_pair.iterrows())
        lines.append(
            f"| {horizon} | {len(wide)} | {coverage['naive']:.3f} | {coverage['garch']:.3f} | "
            f"{100 * relative['naive']:.2f} % | {100 * relative['garch']:.2f} % | "
            f"{relative['garch'] / relative['naive']:.3f} | {ratios} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of <PAIR>.csv (default ../shared/data)")
    parser.add_argument("--pairs", nargs="+", default=["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    parser.add_argument("--start", default="2025-03-31")
    parser.add_argument("--end", default="2026-03-30")
    parser.add_argument("--horizon", type=int, default=7)
    parser.add_argument("--level", type=float, default=0.8)
    parser.add_argument("--fit-rounds", type=int, default=10)
    args = parser.parse_args()
    start, end = pd.Timestamp(args.start, tz="UTC"), pd.Timestamp(args.end, tz="UTC")
    frames = {pair: read_pair(args.data / f"{pair}.csv") for pair in args.pairs}

    print(f"{platform.node()}: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    fits = fit_seconds(frames[args.pairs[0]], end, 730, args.fit_rounds) * 1000
    print(
        f"one GARCH fit on the 730 days of {args.pairs[0]} to {end:%Y-%m-%d} ({args.fit_rounds} rounds): wall median "
        f"{np.median(fits[:, 0]):.1f} ms (fastest {fits[:, 0].min():.1f}), CPU median {np.median(fits[:, 1]):.1f} ms"
    )
    began = time.perf_counter()
    results = [walk_forward(pair, frames[pair], start, end, args.horizon, args.level) for pair in args.pairs]
    seconds = np.array([s for _, pair_seconds, *_ in results for s in pair_seconds]) * 1000
    notes = [note for *_, pair_notes, _ in results for note in pair_notes]
    widenings = np.array([n for *_, pair_widenings in results for n in pair_widenings])
    print(
        f"walk-forward {start:%Y-%m-%d}..{end:%Y-%m-%d}, {', '.join(args.pairs)}: {time.perf_counter() - began:.0f} s; "
        f"{len(seconds)} garch forecasts (window, fit, forecast): wall median {np.median(seconds[:, 0]):.1f} ms, "
        f"90th percentile {np.percentile(seconds[:, 0], 90):.1f} ms, slowest {seconds[:, 0].max():.1f} ms; "
        f"CPU median {np.median(seconds[:, 1]):.1f} ms, 90th percentile {np.percentile(seconds[:, 1], 90):.1f} ms; "
        f"{len(notes)} fallback notes"
    )
    print(
        f"naive: the envelope widened {int(widenings.sum())} of {widenings.size * args.horizon} intervals "
        f"(on {int((widenings > 0).sum())} of {widenings.size} days)"
    )
    for note in notes[:10]:
        print(f"  {note}")
    scored = interval_scores(pd.concat([frame for frame, *_ in results], ignore_index=True), args.level)
    print()
    print(table(scored))


if __name__ == "__main__":
    main()
