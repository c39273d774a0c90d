"""SIGKILL during training, checkpoint writing and database writes: the next run resumes cleanly.

Each crash is a real process (``python -c``) running a job step against a prepared database. To
hit a narrow window the wrapper, never the product, installs the kill: ``CRASH_AT`` names where.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from forecaster.db.models import Forecast, ModelVersion
from forecaster.pipeline.forecast import forecast_step
from forecaster.pipeline.train import train_step
from forecaster.series import SeriesKey
from tests.support.candles import store_candles
from tests.support.tiny import TINY_JOB

KEY = SeriesKey("binance", "BTC/USDT", "1d")

AS_OF = pd.Timestamp("2024-06-30", tz="UTC").to_pydatetime()
# Every test runs a job step in a process of its own and kills it.
pytestmark = pytest.mark.slow

WRAPPER = r"""
import json, os, signal, sys

def die(*_):
    os.kill(os.getpid(), signal.SIGKILL)

where, _, what = os.environ["CRASH_AT"].partition(":")
if where == "training":  # inside the training loop, after the first optimiser steps
    from forecaster.model.module import ForecastModule
    real_step = ForecastModule.training_step
    def training_step(self, batch, batch_idx):
        if self.global_step >= 1:
            die()
        return real_step(self, batch, batch_idx)
    ForecastModule.training_step = training_step
elif where == "rename":  # the checkpoint's temporary file written and synced, not yet renamed
    real_replace = os.replace
    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith(".ckpt"):
            die()
        return real_replace(src, dst, *args, **kwargs)
    os.replace = replace
elif where == "insert":  # the first INSERT INTO <what> ran inside its transaction, not yet committed
    from sqlalchemy import Engine, event
    def after(conn, cursor, statement, *args):
        if statement.lstrip().startswith(f"INSERT INTO {what} "):
            die()
    event.listen(Engine, "after_cursor_execute", after)

from datetime import datetime
from pathlib import Path
from forecaster.db.engine import make_engine, session_factory
from forecaster.series import SeriesKey
from forecaster.pipeline.config import JobConfig
from forecaster.pipeline.forecast import forecast_step
from forecaster.pipeline.train import train_step

step, url, key, as_of, job, data = sys.argv[1:]
sessions = session_factory(make_engine(url))
key, as_of, job = SeriesKey(*json.loads(key)), datetime.fromisoformat(as_of), JobConfig.model_validate_json(job)
if step == "train":
    print(train_step(sessions, key, as_of, "auto", job, Path(data)).line(key))
else:
    print(forecast_step(sessions, key, as_of, job).line(key, as_of))
"""


def crash(step: str, crash_at: str, url: str, data: Path, key: SeriesKey = KEY) -> subprocess.CompletedProcess[str]:
    """Run ``train`` or ``forecast`` in a new process that kills itself with SIGKILL at ``crash_at``."""
    args = [step, url, json.dumps([key.exchange, key.symbol, key.timeframe]), AS_OF.isoformat()]
    return subprocess.run(
        [sys.executable, "-c", WRAPPER, *args, TINY_JOB.model_dump_json(), str(data)],
        capture_output=True,
        text=True,
        env={**os.environ, "CRASH_AT": crash_at},
        timeout=300,
    )


def assert_killed(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]


def versions(sessions) -> list[ModelVersion]:
    with sessions() as session:
        return list(session.scalars(select(ModelVersion)))


def forecast_count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Forecast)) or 0


@pytest.fixture
def history(btc, sessions) -> None:
    store_candles(sessions, KEY, btc[(btc["ts"] >= "2024-01-01") & (btc["ts"] <= AS_OF)])


def resume_and_complete(sessions, data: Path) -> ModelVersion:
    """The next run: trains (as if nothing had happened), forecasts every model; returns the version."""
    outcome = train_step(sessions, KEY, AS_OF, "auto", TINY_JOB, data)
    assert outcome.trained and outcome.mode == "full" and outcome.reason == "no parent model"
    written = forecast_step(sessions, KEY, AS_OF, TINY_JOB)
    assert sorted(written.written) == ["bilstm_gru", "drift", "garch", "moving_average", "naive"]
    assert forecast_count(sessions) == 5 * TINY_JOB.model.horizon
    (version,) = versions(sessions)
    assert outcome.version_id == version.id
    return version


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sigkill_during_training_leaves_nothing(database_url, history, sessions, tmp_path):
    assert_killed(crash("train", "training", database_url, tmp_path / "data"))
    assert versions(sessions) == []
    assert not list(tmp_path.rglob("*.ckpt*")) and not list(tmp_path.rglob(".*.tmp"))
    resume_and_complete(sessions, tmp_path / "data")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sigkill_while_writing_the_checkpoint_leaves_a_temp_file_the_next_run_removes(
    database_url, history, sessions, tmp_path
):
    assert_killed(crash("train", "rename", database_url, tmp_path / "data"))
    (leftover,) = list(tmp_path.rglob(".*.ckpt.*.tmp"))
    assert leftover.stat().st_size > 0 and not list(tmp_path.rglob("*.ckpt")) and versions(sessions) == []
    fresh = leftover.with_name(".another-writer.ckpt.x.tmp")  # one in the making: left alone
    fresh.write_bytes(b"")
    an_hour_ago = time.time() - 3601
    os.utime(leftover, (an_hour_ago, an_hour_ago))

    version = resume_and_complete(sessions, tmp_path / "data")
    assert not leftover.exists() and fresh.exists()
    assert [path.relative_to(tmp_path / "data").as_posix() for path in tmp_path.rglob("*.ckpt")] == [
        version.checkpoint_path
    ]


def test_sigkill_before_the_registration_commits_leaves_an_unregistered_file_never_loaded(
    database_url, history, sessions, tmp_path
):
    assert_killed(crash("train", "insert:model_versions", database_url, tmp_path / "data"))
    assert versions(sessions) == []  # no half-registered version
    (orphan,) = list(tmp_path.rglob("*.ckpt"))

    version = resume_and_complete(sessions, tmp_path / "data")  # "no parent model": the orphan is not one
    assert version.checkpoint_path != orphan.relative_to(tmp_path / "data").as_posix()
    with sessions() as session:
        used = set(session.scalars(select(Forecast.model_version_id).where(Forecast.model_version_id.is_not(None))))
    assert used == {version.id}


def test_sigkill_while_writing_the_forecast_set_leaves_no_partial_set(database_url, history, sessions, tmp_path):
    trained = train_step(sessions, KEY, AS_OF, "auto", TINY_JOB, tmp_path / "data")
    assert_killed(crash("forecast", "insert:forecasts", database_url, tmp_path / "data"))
    assert forecast_count(sessions) == 0

    written = forecast_step(sessions, KEY, AS_OF, TINY_JOB)
    assert sorted(written.written) == ["bilstm_gru", "drift", "garch", "moving_average", "naive"]
    assert forecast_count(sessions) == 5 * TINY_JOB.model.horizon
    assert not train_step(sessions, KEY, AS_OF, "auto", TINY_JOB, tmp_path / "data").trained
    assert [version.id for version in versions(sessions)] == [trained.version_id]
