"""One Prefect test server for the whole session, and a loopback exchange with real candles."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from flows.params import DailyParams
from forecaster.exchange.loopback import LoopbackExchange
from forecaster.model.config import ModelConfig, TrainConfig
from forecaster.pipeline.config import JobConfig
from forecaster.results.gate import GateConfig
from forecaster.series import SeriesKey

TINY_JOB = JobConfig(
    model=ModelConfig(lookback=10, horizon=3, lstm_hidden=8, gru_hidden=4),
    train=TrainConfig(window_days=120, val_days=20, max_epochs=2, finetune_epochs=1, batch_size=64, accelerator="cpu"),
    gate=GateConfig(min_pairs=5),
)


@pytest.fixture(autouse=True)
def _under_prefect(prefect_server: None) -> None:
    """Flows run under the session's Prefect server."""


FIRST_DAY = pd.Timestamp("2024-01-01", tz="UTC")
LAST_DAY = pd.Timestamp("2024-06-30", tz="UTC")


@pytest.fixture
def flow_env(database_url: str, tmp_path, monkeypatch) -> str:
    """Tasks read their settings from the environment, as on a worker."""
    monkeypatch.setenv("FORECASTER_DATABASE_URL", database_url)
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(tmp_path / "data"))
    return database_url


def window(frame: pd.DataFrame, last: pd.Timestamp = LAST_DAY) -> pd.DataFrame:
    return frame[(frame["ts"] >= FIRST_DAY) & (frame["ts"] <= last)].reset_index(drop=True)


def clock_after(day: pd.Timestamp):
    return (day + pd.Timedelta(days=1, minutes=10)).to_pydatetime()


@pytest.fixture
def exchange(btc: pd.DataFrame, eth: pd.DataFrame) -> Iterator[LoopbackExchange]:
    """BTC/USDT and ETH/USDT of the first half of 2024, the clock just after the last close."""
    with LoopbackExchange({"BTC/USDT": window(btc), "ETH/USDT": window(eth)}, now=clock_after(LAST_DAY)) as server:
        yield server


def params(*symbols: str, **values) -> DailyParams:
    pairs = [SeriesKey("binance", symbol) for symbol in symbols]
    return DailyParams(pairs=pairs, job=TINY_JOB, **values)
