"""torch's thread count is the process's, set at the entry points from FORECASTER_TORCH_THREADS (default
1), never by the library's training."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from flows.resources import torch_threads
from forecaster.model.train import seed_everything, train
from forecaster.runtime import set_torch_threads
from tests.support.tiny import TINY_MODEL, TINY_TRAIN

# What the console entry does first, then the threads torch has, whatever the command's exit.
PROBE = """
import sys, torch
from flows.cli import main
sys.argv = ["forecaster", "db", "--help"]
code = 0
try:
    main()
except SystemExit as exit:
    code = exit.code
print("threads", torch.get_num_threads(), "exit", code)
"""


@pytest.fixture
def two_threads() -> Iterator[None]:
    set_torch_threads(2)
    yield
    set_torch_threads(1)


def test_training_leaves_the_process_threads_alone(two_threads, candles, as_of):
    seed_everything(7)
    train(candles, as_of, TINY_MODEL, TINY_TRAIN.model_copy(update={"max_epochs": 1}))
    assert torch.get_num_threads() == 2


def probe(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if name != "FORECASTER_TORCH_THREADS"}
    return subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=tmp_path, timeout=120, env={**clean, **env}
    )


@pytest.mark.slow
@pytest.mark.parametrize(("value", "threads"), [(None, 1), ("3", 3)])
def test_the_command_sets_the_threads_once_at_its_entry(value, threads, tmp_path):
    result = probe(tmp_path, **({"FORECASTER_TORCH_THREADS": value} if value else {}))
    assert result.stdout.strip().splitlines()[-1] == f"threads {threads} exit 0", result.stderr


@pytest.mark.slow
def test_a_bad_thread_count_is_one_line(tmp_path):
    result = probe(tmp_path, FORECASTER_TORCH_THREADS="-2")
    assert result.stdout.strip().splitlines()[-1].endswith("exit 1")
    assert result.stderr.startswith("error: torch_threads: ") and result.stderr.count("\n") == 1, result.stderr


def test_flows_and_tasks_set_them_from_the_environment(monkeypatch):
    monkeypatch.setenv("FORECASTER_TORCH_THREADS", "2")
    try:
        assert torch_threads() == 2 == torch.get_num_threads()
    finally:
        set_torch_threads(1)
