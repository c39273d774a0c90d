"""Parsing stays light: ``--help`` and a bad option never import the libraries the commands use.

Not a timing test (``benchmarks/bench_cli.py`` times it): each case runs the console entry in a fresh
interpreter and lists the heavy modules loaded once the arguments have been read.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# torch, Lightning and Prefect take seconds to import; the others tens to hundreds of milliseconds each.
# Not pydantic: typer itself (``typer._adapters``) imports it to read a command's parameters.
HEAVY = (
    "torch",
    "pytorch_lightning",
    "lightning_fabric",
    "prefect",
    "ccxt",
    "pandas",
    "numpy",
    "sqlalchemy",
    "matplotlib",
)
PROBE = """
import json, sys
args, watched = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["forecaster", *args]
from flows.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = [name for name in watched if name in sys.modules]
print("PROBE " + json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def parse_only(args: list[str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("PROBE "), done.stderr
    return json.loads(line.removeprefix("PROBE "))


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--help"], 0),
        (["ingest", "--no-such-option"], 2),
        (["ingest", "--help"], 0),
        (["train", "--help"], 0),
        (["backtest", "--exchange"], 2),
        (["run", "--help"], 0),
        (["serve", "--help"], 0),
        (["db", "--help"], 0),
        (["registry", "prune", "--help"], 0),
        (["no-such-command"], 2),
    ],
)
def test_parsing_imports_no_heavy_library(args, code):
    probe = parse_only(args)
    assert probe["code"] == code
    assert probe["heavy"] == []


# A bad value needs the command's own light checks (dates, symbols, exchanges: pandas and ccxt), never the
# libraries of the work it would have done.
WORK = ("torch", "pytorch_lightning", "lightning_fabric", "prefect", "matplotlib")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["train", "-e", "binance", "-s", "BTC/USDT", "--mode", "partial"], 2),
        (["train", "-e", "binance", "-s", "BTC/USDT", "--as-of", "2999-01-01"], 1),
        (["forecast", "-e", "binance", "-s", "BTCUSDT"], 1),
        (["backtest", "-e", "binance", "-s", "BTC/USDT", "--start", "2024-06-30", "--end", "2024-06-01"], 1),
        (["backtest", "-e", "binance", "-s", "BTC/USDT", "--start", "2024-06-01", "--end", "2999-01-01"], 1),
        (["run", "--as-of", "2999-01-01"], 1),
        (["run", "--symbols", "BTC/USDT,BTCUSDT"], 1),
        (["run", "--exchange", "nosuchex"], 1),
        (["run", "--mode", "sometimes"], 2),
        (["serve", "-e", "binance", "--symbols", " , "], 2),
    ],
)
def test_a_bad_value_fails_before_torch_and_prefect_load(args, code):
    probe = parse_only(args)
    assert probe["code"] == code
    assert [name for name in probe["heavy"] if name in WORK] == []
