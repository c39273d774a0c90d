"""The small populated database of ``tests/support/populate.py``, one per dialect and test module."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from forecaster.db.engine import make_engine, session_factory
from forecaster.db.migrate import upgrade
from tests.support.populate import Populated, candles_of, populate
from tests.support.postgres import DIALECTS, scratch_database


@pytest.fixture(scope="module", params=DIALECTS)
def populated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, btc: pd.DataFrame, eth: pd.DataFrame
) -> Iterator[Populated]:
    """The populated database, one per dialect and test module (read-only for tests)."""
    folder = tmp_path_factory.mktemp(f"populated-{request.param}")
    with scratch_database(request.param, folder) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            yield populate(url, session_factory(engine), candles_of(btc, eth))
        finally:
            engine.dispose()
