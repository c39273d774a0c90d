"""The operator's path, walked for real: a Prefect server, a process work pool, the deployment built from
deployments/prefect.yaml, a worker started in another folder, a manual run of one day with a single overridden
parameter, and ``forecaster serve`` beside it. Subprocesses and real HTTP only; PostgreSQL where it runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pandas as pd
import pytest
from sqlalchemy import create_engine, select

from forecaster.db.engine import make_engine, session_factory
from forecaster.db.models import Forecast, Run
from forecaster.exchange.loopback import LoopbackExchange
from forecaster.exchange.synthetic import synthetic_candles
from tests.support.ports import free_port
from tests.support.postgres import PG_ADMIN_URL, created_database, postgres_reason

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LAST_DAY = pd.Timestamp("2026-03-31", tz="UTC")
RUN_DAY = LAST_DAY - pd.Timedelta(days=2)


def stop(process: subprocess.Popen[str], timeout: float = 20) -> str:
    """SIGTERM, then SIGKILL: an idle ``prefect worker`` may not exit on SIGTERM alone."""
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output or ""


@pytest.fixture
def prefect_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A real ``prefect server start`` of its own, and the environment that points the CLI at it."""
    if not (BIN / "prefect").exists():
        pytest.skip(f"the prefect command is not installed beside {sys.executable}")
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PREFECT_", "FORECASTER_"))}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_API_PORT": str(port),  # the UI calls this port
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_CLI_PROMPT": "false",
    }
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.5)
        else:
            pytest.fail("the Prefect server did not start")
        yield env
    finally:
        stop(server)


def prefect(env: dict[str, str], *args: str, cwd: Path = ROOT) -> str:
    result = subprocess.run(
        [str(BIN / "prefect"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def worker_database(tmp_path: Path) -> Iterator[str]:
    """A database of its own for the worker: a new PostgreSQL database where the server runs, else a SQLite file.
    (Never the session's shared one: the worker's rows would outlive this test.)"""
    if postgres_reason() is not None:
        yield f"sqlite:///{tmp_path / 'worker.db'}"
        return
    with created_database(create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT"), "forecaster_operator") as url:
        yield url


def read_deployment(env: dict[str, str], name: str) -> dict[str, object]:
    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(env["PREFECT_API_URL"]) as client:
        deployment = client.read_deployment_by_name(name)
    return {
        "work_pool": deployment.work_pool_name,
        "parameters": deployment.parameters,
        "tags": sorted(deployment.tags),
        "description": deployment.description,
        "paused": deployment.paused,
        "crons": [schedule.schedule.cron for schedule in deployment.schedules],  # type: ignore[union-attr]
    }


def wait_for_run(env: dict[str, str], flow_run_id: UUID, timeout: float = 420) -> str:
    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(env["PREFECT_API_URL"]) as client:
        for _ in range(int(timeout)):
            state = client.read_flow_run(flow_run_id).state
            if state is not None and state.is_final():
                return f"{state.type.value}: {state.message}"
            time.sleep(1)
    pytest.fail(f"flow run {flow_run_id} did not finish in {timeout} s")


def test_deploy_run_one_day_and_serve_beside_it(prefect_env, worker_database, tmp_path):
    env = prefect_env
    candles = {symbol: synthetic_candles(symbol, "2024-01-01", LAST_DAY) for symbol in ("BTC/USDT", "ETH/USDT")}
    clock = (LAST_DAY + pd.Timedelta(days=1, minutes=10)).to_pydatetime()
    with LoopbackExchange(candles, now=clock) as exchange:
        prefect(env, "work-pool", "create", "forecaster-process", "--type", "process")
        prefect(env, "--no-prompt", "deploy", "--prefect-file", "deployments/prefect.yaml", "--all")
        deployed = read_deployment(env, "daily/daily")

        elsewhere = tmp_path / "worker-home"  # a worker started in another folder runs its installed code
        elsewhere.mkdir()
        worker_env = env | {
            "FORECASTER_DATABASE_URL": worker_database,
            "FORECASTER_DATA_DIR": str(tmp_path / "worker-data"),
            "FORECASTER_EXCHANGE_API_URL": exchange.url,  # the loopback speaks Binance's REST API
            "FORECASTER_EXCHANGE_CONCURRENCY": "0",
        }
        worker = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", "forecaster-process"],
            env=worker_env,
            cwd=elsewhere,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            out = prefect(env, "deployment", "run", "daily/daily", "--param", f"as_of={RUN_DAY:%Y-%m-%d}")
            flow_run_id = UUID(next(line for line in out.splitlines() if "UUID" in line).split()[-1])
            outcome = wait_for_run(env, flow_run_id)
        finally:
            worker_log = stop(worker)
        assert outcome.startswith("COMPLETED"), outcome + "\n" + worker_log[-4000:]

    # the deployment's two pairs were kept and forecast as of the overridden day, nothing else
    engine = make_engine(worker_database)
    with session_factory(engine)() as session:
        forecast = session.execute(select(Forecast.symbol, Forecast.as_of, Forecast.model).distinct()).all()
        run = session.scalars(select(Run).where(Run.flow_run_id == str(flow_run_id))).one()
    engine.dispose()
    assert {(symbol, as_of) for symbol, as_of, _ in forecast} == {
        ("BTC/USDT", RUN_DAY.to_pydatetime()),
        ("ETH/USDT", RUN_DAY.to_pydatetime()),
    }
    assert {model for *_, model in forecast} == {"bilstm_gru", "naive", "drift", "moving_average", "garch"}
    assert run.status == "completed" and run.trigger == "manual"  # a deployment run by hand
    assert "database " in worker_log and "password" not in worker_log.lower()

    # forecaster serve beside it: its own deployment; the work-pool deployment is left exactly as deployed
    serve_env = env | {"FORECASTER_DATA_DIR": str(tmp_path / "serve-data")}
    command = [str(BIN / "forecaster"), "serve", "--exchange", "binance", "--symbols", "BTC/USDT"]
    refused = subprocess.run([*command, "--name", "daily"], env=serve_env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "will not take it over" in refused.stderr, refused.stderr
    serving = subprocess.Popen(command, env=serve_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(240):
            try:
                served = read_deployment(env, "daily/serve")
                break
            except Exception:  # noqa: BLE001 - not registered yet
                assert serving.poll() is None, serving.stdout.read() if serving.stdout else ""
                time.sleep(0.5)
    finally:
        stop(serving, timeout=120)
    assert served["work_pool"] is None and served["parameters"]["pairs"][0]["symbol"] == "BTC/USDT"  # type: ignore[index]
    assert read_deployment(env, "daily/daily") == deployed
    assert deployed["paused"] is False and deployed["work_pool"] == "forecaster-process"
