"""A flow run with database password and exchange credentials set stores none of them."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import make_url

from flows.daily import daily
from forecaster.db.engine import make_engine, session_factory
from forecaster.db.models import IngestRun, ModelVersion, Run
from tests.support.candles import half_year_exchange
from tests.support.tiny import params

API_KEY, API_SECRET, DB_PASSWORD = "key-4c1d9e", "secret-9f3a7b", "pw-77e2c5"


def test_successful_flow_run_stores_no_secret(prefect_server, database_url, btc, tmp_path, monkeypatch):
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":  # the test server trusts local connections: any password works
        database_url = url.set(password=DB_PASSWORD).render_as_string(hide_password=False)
    monkeypatch.setenv("FORECASTER_DATABASE_URL", database_url)
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FORECASTER_EXCHANGE_API_KEY", API_KEY)
    monkeypatch.setenv("FORECASTER_EXCHANGE_API_SECRET", API_SECRET)
    with half_year_exchange({"BTC/USDT": btc}) as server:
        state = daily(**params("BTC/USDT"), api_url=server.url, return_state=True)
    assert state.is_completed(), state.message
    engine = make_engine(database_url)
    with session_factory(engine)() as session:
        stored = [
            str([getattr(row, column.name) for column in table.__table__.columns])
            for table in (Run, IngestRun, ModelVersion)
            for row in session.scalars(select(table)).all()
        ]
    engine.dispose()
    assert stored and pd.Series(stored).str.contains("BTC/USDT").any()
    for secret in (API_KEY, API_SECRET, DB_PASSWORD):
        assert not any(secret in text for text in stored)
