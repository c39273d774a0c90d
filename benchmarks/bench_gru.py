"""The GRU's training pass alone: forward and backward of its last state, C++ loops against Python loops.

    python -m benchmarks.bench_gru [--rounds 3] [--calls 30]

``recurrent.gru_last_state`` on a 128 -> 32 GRU over 60 steps (the default network's), at batch 32 and 64,
float32, one torch thread: the median CPU time of ``--calls`` calls per round, rounds interleaved (Python
loops, C++ loops), and ``nn.GRU`` through autograd as the reference.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from forecaster.model import kernels, recurrent


def cpu_ms(step: Callable[[], object], calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.process_time()
        step()
        times.append(time.process_time() - start)
    return statistics.median(times) * 1e3


def measure(batch: int, rounds: int, calls: int) -> tuple[list[float], list[float], float]:
    """Per round, the Python loops' and the C++ loops' median ms; then nn.GRU's."""
    torch.manual_seed(0)
    gru = nn.GRU(128, 32, batch_first=True)
    x = torch.randn(batch, 60, 128, requires_grad=True)
    native = recurrent.native_loops_available

    def ours() -> None:
        recurrent.gru_last_state(gru, x).sum().backward()

    def reference() -> None:
        gru(x)[0][:, -1].sum().backward()

    times: dict[bool, list[float]] = {False: [], True: []}
    try:
        for _ in range(rounds):
            for use_native in (False, True):
                recurrent.native_loops_available = lambda flag=use_native: flag  # type: ignore[assignment]
                times[use_native].append(cpu_ms(ours, calls))
    finally:
        recurrent.native_loops_available = native
    return times[False], times[True], cpu_ms(reference, calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not kernels.native_loops_available():
        raise SystemExit("the C++ loops cannot be built here (see the warning above)")
    print("| batch | Python loops, ms | C++ loops, ms | nn.GRU with autograd, ms |\n|---|---|---|---|")
    for batch in (32, 64):
        python, cpp, reference = measure(batch, args.rounds, args.calls)
        print(
            f"| {batch} | {', '.join(f'{v:.2f}' for v in python)} | {', '.join(f'{v:.2f}' for v in cpp)} "
            f"| {reference:.2f} |"
        )


if __name__ == "__main__":
    main()
