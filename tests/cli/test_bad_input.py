"""Bad input everywhere: one clear line, a non-zero exit, nothing written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from pydantic import ValidationError
from sqlalchemy import select

from flows.params import DailyParams
from forecaster.cli.common import validation_message
from forecaster.db.models import Candle, Forecast, Run
from forecaster.errors import InputError
from forecaster.ingest.csv_import import import_csv
from forecaster.ingest.store import load_candles
from forecaster.registry.checkpoint import CheckpointError
from forecaster.registry.versions import load_version
from forecaster.series import SeriesKey
from tests.support.cli import forecaster
from tests.support.rows import row_count

KEY = SeriesKey("binance", "BTC/USDT", "1d")


BACKTEST = ["backtest", "-e", "binance", "-s", "BTC/USDT"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--as-of", "2999-01-01"], "bad --as-of '2999-01-01': it lies in the future"),
        (["run", "--symbols", " , "], "give at least one symbol"),
        (["run", "--symbols", "BTC/USDT,BTCUSDT"], "bad symbol 'BTCUSDT'"),
        (["run", "--exchange", "nosuchex"], "unknown exchange 'nosuchex'"),
        (["run", "--mode", "sometimes"], "train_mode: Input should be 'full', 'finetune' or 'auto'"),
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
    result = forecaster(*args, database_url=url, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and result.stderr.strip().count("\n") == 0, result.stderr
    assert message in result.stderr
    assert row_count(url, Candle) == 0 and row_count(url, Run) == 0 and row_count(url, Forecast) == 0


@pytest.mark.parametrize(
    ("values", "where", "message"),
    [
        ({"pairs": []}, "pairs", "at least 1 item"),
        ({"pairs": [{"exchange": "binance", "symbol": "BTCUSDT"}]}, "pairs.0.symbol", "bad symbol 'BTCUSDT'"),
        ({"pairs": [{"exchange": "nosuchex", "symbol": "BTC/USDT"}]}, "pairs.0.exchange", "unknown exchange"),
        ({"as_of": "2999-01-01"}, "as_of", "2999-01-01 lies in the future"),
        ({"catch_up_days": -1}, "catch_up_days", "greater than or equal to 0"),
        ({"job": {"train": {"window_days": 100}}}, "job", "window_days=100 is shorter than the model needs"),
        ({"job": {"model": {"horizon": 0}}}, "job.model.horizon", "greater than or equal to 1"),
        ({"job": {"model": {"horizon": 10_000}}}, "job.model.horizon", "less than or equal to"),
        ({"job": {"model": {"features": ["log_return", "rsi"]}}}, "job.model.features", "unknown feature(s) ['rsi']"),
    ],
)
def test_bad_flow_parameters_are_refused_in_one_line(values, where, message):
    with pytest.raises(ValidationError) as caught:
        DailyParams.model_validate(values)
    line = validation_message(caught.value)
    assert "\n" not in line and message in line, line
    assert line.startswith(f"{where}: "), line


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
        "import-csv", str(path), "-e", "binance", "--symbol", "BTC/USDT", database_url=url, cwd=tmp_path
    )
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert f"{path}:6: 2024-01-04T22:00:00+00:00 (in UTC) is not a 1d candle open time" in result.stderr
    assert row_count(url, Candle) == 0


def test_forecast_with_a_tampered_checkpoint_falls_back_to_baselines_with_the_reason(
    registered, sessions, database_url, tmp_path
):
    path = Path(registered.checkpoint_path)
    path.write_bytes(path.read_bytes() + b"\0")
    result = forecaster("forecast", "-e", "binance", "-s", "BTC/USDT", database_url=database_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert "\n" not in line and "wrote naive, drift, moving_average" in line
    assert "model skipped: checkpoint" in line and "it was changed or replaced" in line
    with sessions() as session:
        models = set(session.scalars(select(Forecast.model)).all())
    assert models == {"naive", "drift", "moving_average"}


def test_foreign_checkpoint_registered_under_its_own_hash_is_refused(registered, sessions):
    import hashlib

    path = Path(registered.checkpoint_path)
    torch.save({"format": "someone-else/1", "weights": torch.zeros(3)}, path)
    registered.checkpoint_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(CheckpointError, match="is not a forecaster model checkpoint"):
        load_version(registered)
    torch.save({"format": "x", "code": InputError("pickled object")}, path)  # not weights-only
    registered.checkpoint_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_version(registered)
