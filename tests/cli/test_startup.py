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
