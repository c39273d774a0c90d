"""A backtest's next full retrain, fitted ahead in a second process while the days before it run.

Under the auto policy a full retrain comes ``full_retrain_every_days`` after the last one (earlier when the
validation loss degrades). A full retrain depends on nothing but the candles up to its day, the
configuration and the seed: not on the fine-tunes, forecasts and scores of the days before it. So while the
backtest fine-tunes and forecasts those days, a worker process fits the next full retrain from the same
candles, seeded the same way. When that day comes and the policy asks for a full retrain there, the fit is
taken from the worker; when the policy retrains on another day (a degraded validation loss), the fit is made
in the backtest's process as usual, the guess is dropped, and the next one starts from that day.

Same code, candles, configuration and seed: the same weights as a fit made in the backtest's own process
(``tests/pipeline/test_ahead.py`` compares the model versions and forecasts of both). The pool is
``concurrent.futures.ProcessPoolExecutor``, one worker, started with ``spawn`` (torch and forked threads do not
mix), one torch thread, as the backtest's process.
"""

from __future__ import annotations

import bisect
import logging
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timedelta

import pandas as pd
import torch
from sqlalchemy.orm import Session, sessionmaker

from forecaster.model.artifact import TrainedModel
from forecaster.model.config import ModelConfig, TrainConfig
from forecaster.model.train import seed_everything, train
from forecaster.pipeline.config import JobConfig
from forecaster.pipeline.inputs import read_history
from forecaster.series import SeriesKey

log = logging.getLogger(__name__)


def worker_pool() -> ProcessPoolExecutor:
    """One worker process for fits ahead, with this process's torch thread count."""
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=torch.set_num_threads,
        initargs=(torch.get_num_threads(),),
    )


def fit_in_full(
    candles: pd.DataFrame, as_of: pd.Timestamp, model_cfg: ModelConfig, train_cfg: TrainConfig
) -> TrainedModel:
    """A full retrain as ``train_step`` makes it: seeded at its entry (runs in the worker)."""
    seed_everything(train_cfg.seed)
    return train(candles, as_of, model_cfg, train_cfg)


class FullRetrainsAhead:
    """``train``'s drop-in for ``train_step`` in a backtest of ``days``: full retrains come from the worker
    when it fitted that day ahead; every fit that is not ahead is made here, as ``train`` would."""

    def __init__(
        self,
        pool: ProcessPoolExecutor,
        sessions: sessionmaker[Session],
        key: SeriesKey,
        days: list[datetime],
        job: JobConfig,
    ) -> None:
        self._pool, self._sessions, self._key, self._days, self._job = pool, sessions, key, sorted(days), job
        self._pending: tuple[pd.Timestamp, Future[TrainedModel]] | None = None
        self._broken = False  # the worker died: every fit is made here from then on
        self.taken = 0  # full retrains that came from the worker

    def __call__(
        self,
        candles: pd.DataFrame,
        as_of: pd.Timestamp,
        model_cfg: ModelConfig,
        train_cfg: TrainConfig,
        *,
        parent: TrainedModel | None = None,
    ) -> TrainedModel:
        if parent is not None:
            return train(candles, as_of, model_cfg, train_cfg, parent=parent)
        ahead = self._take(as_of, model_cfg, train_cfg)
        model = ahead if ahead is not None else train(candles, as_of, model_cfg, train_cfg)
        self._fit_next_after(as_of)
        return model

    def _take(self, as_of: pd.Timestamp, model_cfg: ModelConfig, train_cfg: TrainConfig) -> TrainedModel | None:
        pending, self._pending = self._pending, None
        if pending is None or pending[0] != as_of or (model_cfg, train_cfg) != (self._job.model, self._job.train):
            return None  # a retrain on another day: the guess is dropped (the worker finishes it unused)
        try:
            model = pending[1].result()
        except BrokenProcessPool as exc:  # the worker died (a fit's own error is raised as a fit here would)
            self._broken = True
            log.warning("the worker fitting ahead died (%s): the full retrains are fitted here from now on", exc)
            return None
        self.taken += 1
        return model

    def _fit_next_after(self, last_full: pd.Timestamp) -> None:
        """Submit the full retrain of the first stored day ``full_retrain_every_days`` or more after ``last_full``."""
        due = last_full.to_pydatetime() + timedelta(days=self._job.train.full_retrain_every_days)
        index = bisect.bisect_left(self._days, due)
        if index == len(self._days) or self._broken:
            return
        day = self._days[index]
        candles = read_history(self._sessions, self._key, day, self._job.history_days)
        future = self._pool.submit(fit_in_full, candles, pd.Timestamp(day), self._job.model, self._job.train)
        self._pending = (pd.Timestamp(day), future)
