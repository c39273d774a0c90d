"""A database filled as the daily job fills it: its own steps replayed day after day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.model.artifact import TrainedModel
from forecaster.pipeline.config import JobConfig
from forecaster.pipeline.evaluate import evaluate_step
from forecaster.pipeline.forecast import forecast_step
from forecaster.pipeline.train import train_step
from forecaster.registry.versions import latest_version, load_version
from forecaster.series import SeriesKey
from tests.support.candles import store_candles
from tests.support.tiny import TINY_JOB, TINY_MODEL

FILLED_KEY = SeriesKey("binance", "BTC/USDT", "1d")
# Without shrinkage toward naive the model calls a direction every day (the reports count direction hits).
FILL_JOB = TINY_JOB.model_copy(update={"model": TINY_MODEL.model_copy(update={"shrink": False})})


@dataclass(frozen=True)
class Filled:
    """A database holding twelve days of scored forecasts of ``FILLED_KEY`` (and nothing of any other series)."""

    url: str
    sessions: sessionmaker[Session]
    days: list[datetime]  # the forecast days, oldest first
    model: TrainedModel  # the one model, trained on the first day

    @property
    def as_of(self) -> datetime:
        """The newest forecast day."""
        return self.days[-1]


def fill(url: str, sessions: sessionmaker[Session], btc: pd.DataFrame, checkpoints: Path) -> Filled:
    """Twelve daily runs as the job does them, 2024-07-17..28: score what matured, then forecast; one tiny model.

    The candles reach to 2024-07-31, so that every forecast of those days is scored.
    """
    job: JobConfig = FILL_JOB
    history = btc[(btc["ts"] >= "2024-01-01") & (btc["ts"] <= "2024-07-31")].reset_index(drop=True)
    store_candles(sessions, FILLED_KEY, history)
    days = [day.to_pydatetime() for day in history["ts"].iloc[-15 : -job.model.horizon]]
    train_step(sessions, FILLED_KEY, days[0], "full", job, checkpoints)
    for day in days:  # what has matured is scored before the next forecast
        evaluate_step(sessions, FILLED_KEY)
        forecast_step(sessions, FILLED_KEY, day, job)
    evaluate_step(sessions, FILLED_KEY)
    with sessions() as session:
        version = latest_version(session, FILLED_KEY, "live")
    assert version is not None
    return Filled(url, sessions, days, load_version(sessions, version))
