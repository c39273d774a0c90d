"""Bad input everywhere: one clear line, a non-zero exit, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import torch
from prefect.exceptions import ParameterTypeError, SignatureMismatchError
from sqlalchemy import func, inspect, select

from flows.daily import daily
from flows.params import check_day
from forecaster.db.engine import make_engine, session_factory
from forecaster.db.models import Candle, Checkpoint, Forecast, ModelVersion, Run
from forecaster.errors import InputError
from forecaster.ingest.csv_import import import_csv
from forecaster.ingest.store import load_candles, store_candles
from forecaster.pipeline.train import train_step
from forecaster.registry.checkpoint import CheckpointError
from forecaster.registry.versions import load_version
from forecaster.series import SeriesKey
from tests.flows.conftest import TINY_JOB, window

KEY = SeriesKey("binance", "BTC/USDT", "1d")


def forecaster(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The console entry ``flows.cli:main`` in its own process."""
    return subprocess.run(
        [sys.executable, "-c", "from flows.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def rows(url: str, table: type) -> int:
    engine = make_engine(url)
    if not inspect(engine).has_table(table.__tablename__):
        return 0
    with session_factory(engine)() as session:
        count = session.scalar(select(func.count()).select_from(table)) or 0
    engine.dispose()
    return count


BACKTEST = ["backtest", "-e", "binance", "-s", "BTC/USDT"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--as-of", "2999-01-01"], "bad --as-of '2999-01-01': it lies in the future"),
        (["run", "--symbols", " , "], "give at least one symbol"),
        (["run", "--symbols", "BTC/USDT,BTCUSDT"], "bad symbol 'BTCUSDT'"),
        (["run", "--exchange", "nosuchex"], "unknown exchange 'nosuchex'"),
        (["run", "--mode", "sometimes"], "use full, finetune or auto"),
        (["run", "--timeframe", "1M"], "unsupported timeframe '1M'"),
        ([*BACKTEST, "--start", "2024-06-30", "--end", "2024-06-01"], "--start 2024-06-30 is after --end 2024-06-01"),
        ([*BACKTEST, "--start", "2024-06-01", "--end", "2999-01-01"], "bad --end '2999-01-01': it lies in the future"),
        ([*BACKTEST, "--start", "2024-06-01", "--end", "2024-06-30", "--horizon", "0"], "--horizon"),
        ([*BACKTEST, "--start", "2024-06-01", "--end", "2024-06-30", "--horizon", "100000"], "--horizon"),
        ([*BACKTEST, "--start", "2024-06-01", "--end", "2024-06-30"], "no candles of binance BTC/USDT 1d between"),
        (["train", "-e", "binance", "-s", "BTC/USDT", "--as-of", "2999-01-01"], "lies in the future"),
        (["train", "-e", "binance", "-s", "BTC/USDT", "--mode", "partial"], "use full, finetune or auto"),
        (["ingest", "-e", "demo", "--symbols", "BTC/USDT,BTCUSDT"], "bad symbol 'BTCUSDT'"),
    ],
)
def test_bad_option_is_one_line_nonzero_and_writes_nothing(args, message, tmp_path):
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    result = forecaster(*args, "--database-url", url, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and result.stderr.strip().count("\n") == 0, result.stderr
    assert message in result.stderr
    assert rows(url, Candle) == 0 and rows(url, Run) == 0 and rows(url, Forecast) == 0


GOOD_PAIRS = [{"exchange": "binance", "symbol": "BTC/USDT"}]


@pytest.mark.parametrize(
    ("values", "where", "message"),
    [
        ({"pairs": []}, "pairs", "at least 1 item"),
        ({"pairs": [{"exchange": "binance", "symbol": "BTCUSDT"}]}, "pairs.0.symbol", "bad symbol 'BTCUSDT'"),
        ({"pairs": [{"exchange": "nosuchex", "symbol": "BTC/USDT"}]}, "pairs.0.exchange", "unknown exchange"),
        ({"catch_up_days": -1}, "catch_up_days", "greater than or equal to 0"),
        ({"job": {"train": {"window_days": 100}}}, "job", "window_days=100 is shorter than the model needs"),
        ({"job": {"model": {"horizon": 0}}}, "job.model.horizon", "greater than or equal to 1"),
        ({"job": {"model": {"horizon": 10_000}}}, "job.model.horizon", "less than or equal to"),
        ({"job": {"model": {"features": ["log_return", "rsi"]}}}, "job.model.features", "unknown feature(s) ['rsi']"),
        ({"job": {"modle": {"horizon": 3}}}, "job.modle", "Extra inputs are not permitted"),
        ({"job": {"gate": {"min_pair": 3}}}, "job.gate.min_pair", "Extra inputs are not permitted"),
    ],
)
def test_bad_flow_parameters_are_refused_in_one_line(values, where, message):
    with pytest.raises(ParameterTypeError) as caught:
        daily.validate_parameters({"pairs": GOOD_PAIRS, **values})
    (problem,) = str(caught.value).splitlines()[1:]
    assert problem.startswith(f" - {where}: ") and message in problem, problem


def test_an_unknown_flow_parameter_is_refused():
    with pytest.raises(SignatureMismatchError, match="pair"):
        daily.validate_parameters({"pairs": GOOD_PAIRS, "pair": GOOD_PAIRS})


def test_a_day_in_the_future_is_refused():
    with pytest.raises(InputError, match="as_of 2999-01-01 lies in the future"):
        check_day(date(2999, 1, 1), "as_of")


MIXED = (
    "timestamp,open,high,low,close,volume\n"
    "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
    "2024-01-02T02:00:00+02:00,1.5,2,1,1.2,5\n"  # 2024-01-02 00:00 UTC
    "2024-01-02T19:00:00-05:00,1.2,1.4,1,1.3,7\n"  # 2024-01-03 00:00 UTC
    "2024-01-04,1.3,1.5,1.1,1.4,8\n"  # naive: UTC
)


def test_csv_mixing_offsets_lands_on_utc_days(sessions, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(MIXED)
    summary = import_csv(sessions, path, KEY)
    assert summary.new == 4
    with sessions() as session:
        stored = load_candles(session, KEY)
    assert list(stored["ts"]) == list(pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC"))
    assert list(stored["close"]) == [1.5, 1.2, 1.3, 1.4]


def test_csv_row_off_the_day_grid_after_conversion_is_refused_with_its_line(tmp_path):
    path = tmp_path / "off.csv"
    path.write_text(MIXED + "2024-01-05T00:00:00+02:00,1.4,1.6,1.2,1.5,9\n")  # 2024-01-04 22:00 UTC
    url = f"sqlite:///{tmp_path / 'csv.db'}"
    result = forecaster(
        "import-csv", str(path), "-e", "binance", "--symbol", "BTC/USDT", "--database-url", url, cwd=tmp_path
    )
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert f"{path}:6: 2024-01-04T22:00:00+00:00 (in UTC) is not a 1d candle open time" in result.stderr
    assert rows(url, Candle) == 0


@pytest.fixture
def trained(sessions, btc, tmp_path) -> ModelVersion:
    """A registered tiny model for BTC/USDT as of its last candle."""
    with sessions.begin() as session:
        store_candles(session, KEY, window(btc))
    as_of = window(btc)["ts"].iloc[-1].to_pydatetime()
    outcome = train_step(sessions, KEY, as_of, "full", TINY_JOB, tmp_path / "checkpoints")
    with sessions() as session:
        return session.get_one(ModelVersion, outcome.version_id)


def test_forecast_with_a_tampered_checkpoint_falls_back_to_baselines_with_the_reason(
    trained, sessions, database_url, tmp_path
):
    with sessions.begin() as session:  # the command's cache (its own data dir) is empty: it reads these
        stored = session.get_one(Checkpoint, trained.id)
        stored.data = stored.data + b"\0"
    result = forecaster("forecast", "-e", "binance", "-s", "BTC/USDT", "--database-url", database_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert "\n" not in line and "wrote naive, drift, moving_average" in line
    assert "model skipped: checkpoint" in line and "it was changed or replaced" in line
    with sessions() as session:
        models = set(session.scalars(select(Forecast.model)).all())
    assert models == {"naive", "drift", "moving_average"}


def test_foreign_checkpoint_registered_under_its_own_hash_is_refused(trained, sessions, tmp_path):
    import hashlib

    cache = tmp_path / "checkpoints"
    path = cache / trained.checkpoint_path
    torch.save({"format": "someone-else/1", "weights": torch.zeros(3)}, path)
    trained.checkpoint_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(CheckpointError, match="is not a forecaster model checkpoint"):
        load_version(sessions, trained, cache)
    torch.save({"format": "x", "code": InputError("pickled object")}, path)  # not weights-only
    trained.checkpoint_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_version(sessions, trained, cache)
