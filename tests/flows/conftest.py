"""Flows run under the session's Prefect server, against a loopback exchange serving the first half of 2024.

Both fixtures a flow test uses (``flow_env``, ``exchange``) bring the server up; tests of the flows' parameters
and declarations need neither.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from forecaster.exchange.loopback import LoopbackExchange
from tests.support.candles import half_year_exchange


@pytest.fixture
def flow_env(prefect_server: None, database_url: str, tmp_path, monkeypatch) -> str:
    """Tasks read their settings from the environment, as on a worker."""
    monkeypatch.setenv("FORECASTER_DATABASE_URL", database_url)
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(tmp_path / "data"))
    return database_url


@pytest.fixture
def exchange(prefect_server: None, btc: pd.DataFrame, eth: pd.DataFrame) -> Iterator[LoopbackExchange]:
    """BTC/USDT and ETH/USDT of the first half of 2024, the clock just after the last close."""
    with half_year_exchange({"BTC/USDT": btc, "ETH/USDT": eth}) as server:
        yield server
