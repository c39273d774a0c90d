"""Two processes training the same series and day at once register one version.

The mechanism (``forecaster.db.locks``): unique keys make every write idempotent, and on
PostgreSQL a per-series advisory lock makes a second trainer wait and reuse the first one's model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from forecaster.db.models import ModelVersion
from forecaster.series import SeriesKey
from tests.support.candles import store_candles
from tests.support.tiny import TINY_JOB

KEY = SeriesKey("binance", "BTC/USDT", "1d")
pytestmark = pytest.mark.slow  # two training processes


TRAIN_TOGETHER = r"""
import json, sys, time
from datetime import datetime
from pathlib import Path
from forecaster.db.engine import make_engine, session_factory
from forecaster.series import SeriesKey
from forecaster.pipeline.config import JobConfig
from forecaster.pipeline.train import train_step

url, key, as_of, job, data, ready, name = sys.argv[1:]
sessions = session_factory(make_engine(url))
Path(ready, name).touch()
while len(list(Path(ready).iterdir())) < 2:  # both processes imported: start together
    time.sleep(0.01)
outcome = train_step(sessions, SeriesKey(*json.loads(key)), datetime.fromisoformat(as_of), "auto",
                     JobConfig.model_validate_json(job), Path(data))
print(json.dumps({"trained": outcome.trained, "version": outcome.version_id}))
"""


def test_two_processes_training_the_same_day_register_one_version(database_url, btc, sessions, tmp_path):
    history = btc[(btc["ts"] >= "2024-01-01") & (btc["ts"] <= "2024-06-30")]
    store_candles(sessions, KEY, history)
    as_of = history["ts"].iloc[-1].to_pydatetime()
    (tmp_path / "ready").mkdir()
    args = [database_url, json.dumps([KEY.exchange, KEY.symbol, KEY.timeframe]), as_of.isoformat()]
    args += [TINY_JOB.model_dump_json(), str(tmp_path / "data"), str(tmp_path / "ready")]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", TRAIN_TOGETHER, *args, name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for name in ("a", "b")
    ]
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]
        outcomes.append(json.loads(out.strip().splitlines()[-1]))

    with sessions() as session:
        (version,) = session.scalars(select(ModelVersion)).all()
    assert {outcome["version"] for outcome in outcomes} == {version.id}
    cache = tmp_path / "data"
    assert [path.relative_to(cache).as_posix() for path in cache.rglob("*.ckpt")] == [version.checkpoint_path]
    trained = sum(outcome["trained"] for outcome in outcomes)
    if database_url.startswith("postgresql"):
        assert trained == 1  # the second waited on the series lock, then reused the first one's version
    else:
        assert trained in (1, 2)  # SQLite: both may train; the second registration yields to the first
