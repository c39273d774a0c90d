"""One Prefect test server for the whole session, and a loopback exchange with BTC/USDT and ETH/USDT candles."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from forecaster.exchange.loopback import LoopbackExchange
from tests.support.candles import LAST_DAY, clock_after, window


@pytest.fixture(autouse=True)
def _under_prefect(prefect_server: None) -> None:
    """Flows run under the session's Prefect server."""


@pytest.fixture
def flow_env(database_url: str, tmp_path, monkeypatch) -> str:
    """Tasks read their settings from the environment, as on a worker."""
    monkeypatch.setenv("FORECASTER_DATABASE_URL", database_url)
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(tmp_path / "data"))
    return database_url


@pytest.fixture
def exchange(btc: pd.DataFrame, eth: pd.DataFrame) -> Iterator[LoopbackExchange]:
    """BTC/USDT and ETH/USDT of the first half of 2024, the clock just after the last close."""
    with LoopbackExchange({"BTC/USDT": window(btc), "ETH/USDT": window(eth)}, now=clock_after(LAST_DAY)) as server:
        yield server
