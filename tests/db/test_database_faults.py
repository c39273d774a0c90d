"""Database faults: unreachable at start, an older schema, PostgreSQL restarted in the middle of a run.

The restart tests run a private throwaway PostgreSQL cluster (never the shared server) and restart
it right after the first statement of one write transaction (candle batch, model registration,
forecast set), before its commit.
"""

from __future__ import annotations

import importlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, event, inspect

from flows.daily import daily
from flows.tasks import io_retries
from forecaster.cli import main
from forecaster.db.engine import make_engine
from forecaster.db.migrate import current_revision, ensure_schema, head_revision, upgrade
from forecaster.db.models import Candle, Forecast, IngestRun, ModelVersion, Run
from forecaster.exchange.loopback import LoopbackExchange
from tests.support.candles import half_year_exchange
from tests.support.ports import free_port
from tests.support.postgres import created_database
from tests.support.rows import assert_same_rows, row_count, series_rows
from tests.support.tiny import params

DAILY = importlib.import_module("flows.daily")


def no_retries(delay_s: float, retries: int = 0) -> dict[str, Any]:
    """The daily flow's step retries (``flows.tasks.io_retries``) but none: a failed attempt fails its step."""
    return io_retries(delay_s, 0)


@pytest.fixture(scope="module")
def loopback(btc: pd.DataFrame) -> Iterator[LoopbackExchange]:
    """BTC/USDT of the first half of 2024, the clock just after the last close."""
    with half_year_exchange({"BTC/USDT": btc}) as server:
        yield server


def forecaster_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run the ``forecaster`` command's entry point in this process; its exit code and stderr."""
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["forecaster", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, capsys.readouterr().err


# -- unreachable at start -------------------------------------------------------------------------


UNREACHABLE = {
    "postgresql": lambda tmp: f"postgresql+psycopg://app:secret@127.0.0.1:{free_port()}/none",
    "sqlite": lambda tmp: f"sqlite:///{tmp / 'no-such-folder' / 'forecaster.db'}",
}


@pytest.mark.parametrize("command", [["ingest", "--symbols", "BTC/USDT"], ["train", "--symbol", "BTC/USDT"]])
def test_unreachable_database_stops_a_command_before_the_exchange_or_training(
    command, loopback, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("FORECASTER_EXCHANGE_API_URL", loopback.url)
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(tmp_path / "data"))
    before = len(loopback.requests)
    code, err = forecaster_cli(capsys, *command, "-e", "binance", "--database-url", UNREACHABLE["postgresql"](tmp_path))
    assert code == 1
    assert err.startswith("error: cannot reach the database postgresql+psycopg://app:***@127.0.0.1:")
    assert err.count("\n") == 1 and "secret" not in err
    assert len(loopback.requests) == before  # the exchange was never asked
    assert not (tmp_path / "data").exists()  # no training, no checkpoint


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_unreachable_database_fails_the_flow_at_its_first_task(
    prefect_server, dialect, loopback, tmp_path, monkeypatch
):
    monkeypatch.setenv("FORECASTER_DATABASE_URL", UNREACHABLE[dialect](tmp_path))
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(tmp_path / "data"))
    before = len(loopback.requests)
    state = daily(**params("BTC/USDT"), api_url=loopback.url, return_state=True)
    assert state.is_failed()
    assert "DatabaseUnavailable: cannot reach the database" in str(state.message)
    assert "secret" not in str(state.message)
    assert len(loopback.requests) == before
    assert not (tmp_path / "data").exists()


# -- an older schema ------------------------------------------------------------------------------


def test_older_schema_is_refused_by_the_cli_until_db_upgrade(empty_url, loopback, tmp_path, monkeypatch, capsys):
    upgrade(make_engine(empty_url), "0001")
    monkeypatch.setenv("FORECASTER_EXCHANGE_API_URL", loopback.url)
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(tmp_path / "data"))
    before = len(loopback.requests)
    for command in (["train", "--symbol", "BTC/USDT"], ["ingest", "--symbols", "BTC/USDT"]):
        code, err = forecaster_cli(capsys, *command, "-e", "binance", "--database-url", empty_url)
        assert code == 1
        assert err == (
            f"error: the database schema is at revision 0001, this forecaster needs {head_revision()}: "
            "run `forecaster db upgrade`\n"
        )
    assert len(loopback.requests) == before
    engine = make_engine(empty_url)
    assert current_revision(engine) == "0001" and not inspect(engine).has_table("model_versions")
    engine.dispose()

    assert forecaster_cli(capsys, "db", "upgrade", "--database-url", empty_url) == (0, "")
    assert current_revision(make_engine(empty_url)) == head_revision()


def test_older_schema_fails_the_flow_with_the_upgrade_command(
    prefect_server, empty_url, loopback, tmp_path, monkeypatch
):
    upgrade(make_engine(empty_url), "0001")
    monkeypatch.setenv("FORECASTER_DATABASE_URL", empty_url)
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(tmp_path / "data"))
    before = len(loopback.requests)
    state = daily(**params("BTC/USDT"), api_url=loopback.url, return_state=True)
    assert state.is_failed()
    assert "SchemaOutdated" in str(state.message) and "run `forecaster db upgrade`" in str(state.message)
    assert len(loopback.requests) == before
    assert current_revision(make_engine(empty_url)) == "0001"  # never migrated behind the user's back
    assert row_count(empty_url, Candle) == 0


def test_processes_starting_together_on_an_empty_database_create_the_schema_once(empty_url):
    """Every task of the first run opens the database at once (threads here, Dask workers in production)."""
    engines = [make_engine(empty_url) for _ in range(4)]
    start = threading.Barrier(len(engines))

    def open_database(engine: Engine) -> str | None:
        start.wait()
        ensure_schema(engine)
        return current_revision(engine)

    with ThreadPoolExecutor(len(engines)) as pool:
        revisions = list(pool.map(open_database, engines))
    assert revisions == [head_revision()] * len(engines)
    for engine in engines:
        engine.dispose()


# -- PostgreSQL restarted in the middle of a run ------------------------------------------------


@dataclass
class PrivateCluster:
    """A throwaway PostgreSQL cluster of this test module, on its own port and socket folder."""

    bin: Path
    root: Path
    port: int
    as_user: list[str]

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        command = [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-o", options]
        subprocess.run([*command, "-l", str(self.root / "log"), "-w", *args], check=True, capture_output=True)

    def restart(self) -> None:
        self.pg_ctl("-m", "fast", "restart")


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.skip("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: restart tests skipped")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="forecaster-pg-"))
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            pytest.skip("running as root and no postgres user to own a private cluster")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    bin_dir = found[-1].parent
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth=trust", "--no-sync"],
        check=True,
        capture_output=True,
    )
    cluster = PrivateCluster(bin_dir, root, free_port(), as_user)
    cluster.pg_ctl("start")
    try:
        yield cluster
    finally:
        cluster.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def cluster_database(cluster: PrivateCluster) -> Iterator[str]:
    """A new, migrated database on the private cluster."""
    with created_database(make_engine(cluster.admin_url, isolation_level="AUTOCOMMIT")) as url:
        upgrade(make_engine(url))
        yield url


def run_daily(url: str, data_dir: Path, api_url: str) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FORECASTER_DATABASE_URL", url)
        patch.setenv("FORECASTER_DATA_DIR", str(data_dir))
        return daily(**params("BTC/USDT"), api_url=api_url, return_state=True)


@pytest.fixture(scope="module")
def clean_rows(prefect_server: None, cluster: PrivateCluster, loopback: LoopbackExchange) -> dict[str, pd.DataFrame]:
    """The rows of one undisturbed run, on a database of the same cluster."""
    data_dir = Path(tempfile.mkdtemp(prefix="forecaster-clean-"))
    with created_database(make_engine(cluster.admin_url, isolation_level="AUTOCOMMIT")) as url:
        upgrade(make_engine(url))
        state = run_daily(url, data_dir, loopback.url)
        assert state.is_completed(), state.message
        rows = series_rows(url)
    shutil.rmtree(data_dir)
    return rows


@pytest.fixture
def restart_on_insert(cluster: PrivateCluster) -> Iterator[dict[str, str]]:
    """Restart the cluster once, right after the first ``INSERT INTO <armed table>`` ran in its transaction."""
    armed: dict[str, str] = {}

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        table = armed.get("table")
        if table and conn.engine.url.port == cluster.port and statement.lstrip().startswith(f"INSERT INTO {table} "):
            armed.clear()
            cluster.restart()

    event.listen(Engine, "after_cursor_execute", after)
    try:
        yield armed
    finally:
        event.remove(Engine, "after_cursor_execute", after)


@pytest.mark.slow  # a private PostgreSQL cluster, restarted
@pytest.mark.postgres
@pytest.mark.parametrize("table", ["candles", "model_versions", "forecasts"])
def test_restart_inside_a_write_leaves_no_half_batch_and_a_rerun_completes(
    table, cluster_database, restart_on_insert, clean_rows, loopback, tmp_path, monkeypatch
):
    # fail at once instead of retrying, to see what the failed attempt left (the flow applies its step
    # retries when it runs, so they are replaced where it takes them)
    monkeypatch.setattr(DAILY, "io_retries", no_retries)
    restart_on_insert["table"] = table
    state = run_daily(cluster_database, tmp_path / "data", loopback.url)
    assert not restart_on_insert, f"no INSERT INTO {table} happened"
    assert state.is_failed()
    assert state.message.startswith("1 of 1 series failed: binance BTC/USDT 1d ((psycopg.")
    assert "\n" not in state.message  # the error's first line; its SQL stays in the task's log

    wanted = {"candles": Candle, "model_versions": ModelVersion, "forecasts": Forecast}[table]
    assert row_count(cluster_database, wanted) == 0  # the interrupted transaction left nothing
    if table == "candles":
        assert row_count(cluster_database, IngestRun) == 0
    if table == "model_versions":
        assert not list((tmp_path / "data").rglob("*.ckpt"))  # the checkpoint went with its registration
    assert row_count(cluster_database, Run) == 1  # the run itself is recorded, as failed

    monkeypatch.undo()
    rerun = run_daily(cluster_database, tmp_path / "data", loopback.url)
    assert rerun.is_completed(), rerun.message
    assert_same_rows(series_rows(cluster_database), clean_rows)


@pytest.mark.slow  # a private PostgreSQL cluster, restarted
@pytest.mark.postgres
def test_restart_inside_the_forecast_write_is_retried_within_the_run(
    cluster_database, restart_on_insert, clean_rows, loopback, tmp_path, monkeypatch
):
    # the production retries, after the tests' short delay (FORECASTER_TASK_RETRY_DELAY_S, tests/conftest.py)
    restart_on_insert["table"] = "forecasts"
    state = run_daily(cluster_database, tmp_path / "data", loopback.url)
    assert not restart_on_insert
    assert state.is_completed(), state.message
    assert_same_rows(series_rows(cluster_database), clean_rows)
