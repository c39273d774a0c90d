"""Secrets stay secret, checkpoints are checked, SQL is never built from strings."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import select
from sqlalchemy.engine import make_url

from flows.daily import daily
from forecaster.config import Settings
from forecaster.db.engine import make_engine, session_factory
from forecaster.db.models import IngestRun, ModelVersion, Run
from forecaster.exchange.client import make_exchange
from forecaster.exchange.loopback import LoopbackExchange
from forecaster.ingest.store import store_candles
from forecaster.pipeline.train import train_step
from forecaster.registry.checkpoint import CheckpointError
from forecaster.registry.versions import load_version
from forecaster.series import SeriesKey
from tests.support.candles import LAST_DAY, clock_after, window
from tests.support.tiny import TINY_JOB, params

ROOT = Path(__file__).resolve().parents[2]
API_KEY, API_SECRET, DB_PASSWORD = "key-4c1d9e", "secret-9f3a7b", "pw-77e2c5"
INGEST = ("ingest", "-e", "demo", "-s", "BTC/USDT")
SQL_CALLS = {"text", "exec_driver_sql", "execute", "executescript", "executemany"}


def _built_string(node: ast.expr) -> bool:
    """An f-string, ``+``/``%`` concatenation or ``.format`` call: a string assembled at run time."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"


def test_no_sql_is_built_by_string_formatting():
    offenders = []
    for path in [*ROOT.joinpath("forecaster").rglob("*.py"), *ROOT.joinpath("flows").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in SQL_CALLS and _built_string(node.args[0]):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_api_credentials_come_from_the_environment_and_never_show(monkeypatch):
    monkeypatch.setenv("FORECASTER_EXCHANGE_API_KEY", API_KEY)
    monkeypatch.setenv("FORECASTER_EXCHANGE_API_SECRET", API_SECRET)
    settings = Settings()
    exchange = make_exchange("binance", config=settings.exchange)
    assert (exchange.apiKey, exchange.secret) == (API_KEY, API_SECRET)
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert API_KEY not in shown and API_SECRET not in shown
    monkeypatch.delenv("FORECASTER_EXCHANGE_API_SECRET")
    with pytest.raises(ValueError, match="set both FORECASTER_EXCHANGE_API_KEY and FORECASTER_EXCHANGE_API_SECRET"):
        Settings()


def test_failed_ingest_prints_neither_database_password_nor_api_secret(tmp_path):
    url = f"postgresql+psycopg://app:{DB_PASSWORD}@127.0.0.1:1/none"
    env = {**os.environ, "FORECASTER_EXCHANGE_API_KEY": API_KEY, "FORECASTER_EXCHANGE_API_SECRET": API_SECRET}
    outputs = []
    for extra in ([], ["--debug"]):
        result = subprocess.run(
            [sys.executable, "-c", "from flows.cli import main; main()", *INGEST, "--database-url", url, *extra],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
            env=env,
        )
        assert result.returncode != 0
        outputs.append(result.stdout + result.stderr)
    assert "cannot reach the database postgresql+psycopg://app:***@127.0.0.1:1/none" in outputs[0]
    for text in outputs:
        assert DB_PASSWORD not in text and API_SECRET not in text and API_KEY not in text


def test_checkpoint_changed_after_registration_is_refused(sessions, btc, tmp_path):
    key = SeriesKey("binance", "BTC/USDT", "1d")
    with sessions.begin() as session:
        store_candles(session, key, window(btc))
    outcome = train_step(sessions, key, LAST_DAY.to_pydatetime(), "full", TINY_JOB, tmp_path / "checkpoints")
    with sessions() as session:
        version = session.get_one(ModelVersion, outcome.version_id)
    load_version(version)  # intact: loads
    path = Path(version.checkpoint_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="it was changed or replaced"):
        load_version(version)


@pytest.fixture(scope="module")
def own_prefect_server() -> Iterator[None]:
    """A Prefect server of this module's own."""
    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_successful_flow_run_stores_no_secret(own_prefect_server, database_url, btc, tmp_path, monkeypatch):
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":  # the test server trusts local connections: any password works
        database_url = url.set(password=DB_PASSWORD).render_as_string(hide_password=False)
    monkeypatch.setenv("FORECASTER_DATABASE_URL", database_url)
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FORECASTER_EXCHANGE_API_KEY", API_KEY)
    monkeypatch.setenv("FORECASTER_EXCHANGE_API_SECRET", API_SECRET)
    with LoopbackExchange({"BTC/USDT": window(btc)}, now=clock_after(LAST_DAY)) as server:
        state = daily(params("BTC/USDT"), api_url=server.url, return_state=True)
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
