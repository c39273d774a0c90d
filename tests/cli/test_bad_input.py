"""Bad input everywhere: one clear line, a non-zero exit, nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forecaster.db.models import Candle, Checkpoint, Forecast, Run
from forecaster.series import SeriesKey
from tests.support.cli import forecaster
from tests.support.rows import row_count

KEY = SeriesKey("binance", "BTC/USDT", "1d")
# Every test runs the console command in a process of its own (a few seconds of imports each).
pytestmark = pytest.mark.slow


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
    result = forecaster(*args, database_url=url, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and result.stderr.strip().count("\n") == 0, result.stderr
    assert message in result.stderr
    assert row_count(url, Candle) == 0 and row_count(url, Run) == 0 and row_count(url, Forecast) == 0


def test_forecast_with_a_tampered_checkpoint_falls_back_to_baselines_with_the_reason(
    registered, sessions, database_url, tmp_path
):
    with sessions.begin() as session:  # the command's cache (its own data dir) is empty: it reads these
        stored = session.get_one(Checkpoint, registered.id)
        stored.data = stored.data + b"\0"
    result = forecaster("forecast", "-e", "binance", "-s", "BTC/USDT", database_url=database_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert "\n" not in line and "wrote naive, drift, moving_average, garch" in line
    assert "model skipped: checkpoint" in line and "it was changed or replaced" in line
    with sessions() as session:
        models = set(session.scalars(select(Forecast.model)).all())
    assert models == {"naive", "drift", "moving_average", "garch"}
