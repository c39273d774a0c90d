"""Start-up of the ``forecaster`` console script: ``--help``, a bad option and bad values, against ``python -c pass``.

Each round runs, in a fresh process each and in this order, ``python -c pass`` (the interpreter's own
start-up, the reference), ``forecaster --help``, ``forecaster ingest --no-such-option`` and two bad values
(``forecaster train ... --mode partial``, ``forecaster run --as-of 2999-01-01``), through the installed
console script beside this interpreter. The figures are the medians of the rounds and each command's median
ratio to the reference of the same round; the target is 1.5 s for every command.

    python -m benchmarks.bench_cli [--rounds 15] [--script PATH] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

TARGET_S = 1.5
COMMANDS: dict[str, list[str]] = {
    "help": ["--help"],
    "bad_option": ["ingest", "--no-such-option"],
    "bad_mode": ["train", "-e", "binance", "-s", "BTC/USDT", "--mode", "partial"],
    "future_day": ["run", "--as-of", "2999-01-01"],
}
ERRORS = {  # each bad command's exit status and the start of its one line
    "bad_option": (2, "error: No such option: --no-such-option"),
    "bad_mode": (2, "error: Invalid value for --mode"),
    "future_day": (1, "error: bad --as-of '2999-01-01'"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (reference, then each command)")
    parser.add_argument("--script", type=Path, default=default_script(), help="the forecaster console script")
    parser.add_argument("--out", type=Path, help="write every figure as JSON")
    return parser.parse_args(argv)


def default_script() -> Path:
    beside = Path(sys.executable).parent / "forecaster"
    found = shutil.which("forecaster")
    return beside if beside.exists() or found is None else Path(found)


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("FORECASTER_")}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    return time.perf_counter() - start, done


def check(name: str, done: subprocess.CompletedProcess[str]) -> None:
    """Each command did what it should: help on stdout, or one error line and its exit status."""
    if name == "help":
        assert done.returncode == 0 and "Usage" in done.stdout, done.stderr
    else:
        code, start = ERRORS[name]
        lines = done.stderr.strip().splitlines()
        assert done.returncode == code and len(lines) == 1 and lines[0].startswith(start), done.stderr


def one_round(script: Path) -> dict[str, float]:
    seconds, _ = timed([sys.executable, "-c", "pass"])
    row = {"reference": seconds}
    for name, args in COMMANDS.items():
        seconds, done = timed([str(script), *args])
        check(name, done)
        row[name] = seconds
    return row


def summarise(rounds: list[dict[str, float]]) -> dict[str, Any]:
    summary: dict[str, Any] = {"rounds": rounds, "reference_median_s": median(r["reference"] for r in rounds)}
    for name in COMMANDS:
        summary[name] = {
            "median_s": median(r[name] for r in rounds),
            "max_s": max(r[name] for r in rounds),
            "ratio_median": median(r[name] / r["reference"] for r in rounds),
            "within_target": median(r[name] for r in rounds) < TARGET_S,
        }
    return summary


def report(summary: dict[str, Any], rounds: int) -> str:
    lines = [
        f"| command | median s ({rounds} rounds) | max s | x `python -c pass` (median of rounds) | < {TARGET_S} s |",
        "|---|---|---|---|---|",
        f"| `python -c pass` (reference) | {summary['reference_median_s']:.3f} | | 1 | |",
    ]
    for name, args in COMMANDS.items():
        fig = summary[name]
        lines.append(
            f"| `forecaster {' '.join(args)}` | {fig['median_s']:.3f} | {fig['max_s']:.3f} |"
            f" {fig['ratio_median']:.1f} | {'yes' if fig['within_target'] else 'NO'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.script.exists():
        print(f"no console script at {args.script}: pip install -e . first", file=sys.stderr)
        return 2
    load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    print(f"script: {args.script}; python {sys.version.split()[0]}; cores {os.cpu_count()}; load {load}")
    one_round(args.script)  # warm the file cache, untimed
    rounds = [one_round(args.script) for _ in range(args.rounds)]
    summary = summarise(rounds)
    print(report(summary, args.rounds))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2))
        print(f"wrote {args.out}")
    return 0 if all(summary[name]["within_target"] for name in COMMANDS) else 1


if __name__ == "__main__":
    sys.exit(main())
