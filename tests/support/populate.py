"""A small populated database, written by the job's own code paths but without training a network.

Two series (BTC/USDT and ETH/USDT on binance, daily candles of the first half of 2024). For each of
the last ``DAYS`` as-of days, as the daily job does: score what matured, compute the naive gate,
then write the forecast set: the three baselines (80 % intervals) and a stand-in for the model at a
90 % level, registered as a model version. The stand-in peeks at the future on BTC (it beats naive)
and adds a fixed tilt on ETH (it loses). Runs: a scheduled one that made everything, and a failed
manual one with a failed ingest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db.models import ModelVersion
from forecaster.ingest.service import record_failure
from forecaster.model.baselines import baseline_forecast, baseline_names
from forecaster.model.config import ModelConfig, TrainConfig
from forecaster.pipeline.runs import finish_run, start_run
from forecaster.registry.manifest import build_manifest
from forecaster.results.evaluate import evaluate_matured
from forecaster.results.forecasts import MODEL, forecast_rows, write_forecasts
from forecaster.results.gate import GateConfig, naive_gate
from forecaster.series import SeriesKey
from tests.support.candles import store_candles

BTC = SeriesKey("binance", "BTC/USDT", "1d")
ETH = SeriesKey("binance", "ETH/USDT", "1d")
HORIZON = 7
DAYS = 40
MODEL_LEVEL = 0.9
BASELINE_LEVEL = 0.8
WINDOW_DAYS = 120
GATE = GateConfig(min_pairs=5)
FIRST_CANDLE, LAST_CANDLE = "2024-01-01", "2024-06-30"


@dataclass(frozen=True)
class Populated:
    url: str
    sessions: sessionmaker[Session]
    days: list[datetime]  # the as-of days, oldest first
    run_id: int  # the scheduled run that made every forecast
    failed_run_id: int
    run_kind: str

    @property
    def last_day(self) -> date:
        return self.days[-1].date()


def candles_of(btc: pd.DataFrame, eth: pd.DataFrame) -> dict[SeriesKey, pd.DataFrame]:
    def cut(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[(frame["ts"] >= FIRST_CANDLE) & (frame["ts"] <= LAST_CANDLE)].reset_index(drop=True)

    return {BTC: cut(btc), ETH: cut(eth)}


def populate(
    url: str,
    sessions: sessionmaker[Session],
    candles: dict[SeriesKey, pd.DataFrame],
    *,
    run_kind: str = "live",
    days: int = DAYS,
    stop: int = 0,
) -> Populated:
    """Fill an empty, migrated database; see the module docstring. The as-of days are the ``days``
    days ending ``stop`` days before the last candle."""
    for key, frame in candles.items():
        store_candles(sessions, key, frame)
    stamps = next(iter(candles.values()))["ts"]
    as_of_days = [ts.to_pydatetime() for ts in stamps.iloc[len(stamps) - stop - days : len(stamps) - stop]]
    trigger = "backtest" if run_kind == "backtest" else "scheduled"
    job = {"job": {"model": {"interval_level": BASELINE_LEVEL}}}
    run_id = start_run(sessions, trigger, parameters=job, flow_run_id="7d0c0f5e-0000-4000-8000-000000000001")
    versions = {key: _register(sessions, key, frame, as_of_days[0], run_id, run_kind) for key, frame in candles.items()}
    for day in as_of_days:
        for key, frame in candles.items():
            _forecast_day(sessions, key, frame, day, run_id, versions[key], run_kind)
    with sessions.begin() as session:
        evaluate_matured(session)
    finish_run(sessions, run_id, "completed", "ok binance BTC/USDT 1d\nok binance ETH/USDT 1d", as_of=as_of_days[-1])
    failed_run_id = _failed_run(sessions)
    return Populated(url, sessions, as_of_days, run_id, failed_run_id, run_kind)


def _register(
    sessions: sessionmaker[Session], key: SeriesKey, frame: pd.DataFrame, day: datetime, run_id: int, run_kind: str
) -> int:
    used = frame[(frame["ts"] > day - timedelta(days=WINDOW_DAYS)) & (frame["ts"] <= day)]
    version = ModelVersion(
        exchange=key.exchange,
        symbol=key.symbol,
        timeframe=key.timeframe,
        run_kind=run_kind,
        created_at=day + timedelta(minutes=10),
        mode="full",
        parent_id=None,
        run_id=run_id,
        train_start=used["ts"].iloc[0].to_pydatetime(),
        train_end=day,
        hyperparameters={
            "model": ModelConfig(horizon=HORIZON, interval_level=MODEL_LEVEL).model_dump(mode="json"),
            "train": TrainConfig(window_days=WINDOW_DAYS).model_dump(mode="json"),
        },
        train_loss=0.5,
        val_loss=0.6,
        epochs=3,
        duration_s=1.5,
        checkpoint_path=f"/nowhere/{key.symbol.replace('/', '-')}.ckpt",
        checkpoint_sha256="0" * 64,
        manifest=build_manifest(used, seed=0, mode="full", reason="no parent model"),
    )
    with sessions.begin() as session:
        session.add(version)
    return version.id


def _forecast_day(
    sessions: sessionmaker[Session],
    key: SeriesKey,
    frame: pd.DataFrame,
    day: datetime,
    run_id: int,
    version_id: int,
    run_kind: str,
) -> None:
    known = frame[frame["ts"] <= day]
    as_of = pd.Timestamp(day)
    frames = {
        name: baseline_forecast(
            name, known, as_of, horizon=HORIZON, interval_level=BASELINE_LEVEL, window_days=WINDOW_DAYS
        )
        for name in baseline_names()
    }
    with sessions.begin() as session:
        evaluate_matured(session, key)
    with sessions.begin() as session:
        gates = naive_gate(session, key, day, run_kind, MODEL, GATE)
        for name, forecast in frames.items():
            rows = forecast_rows(
                forecast,
                model=name,
                key=key,
                as_of=day,
                run_id=run_id,
                run_kind=run_kind,
                interval_level=BASELINE_LEVEL,
            )
            write_forecasts(session, rows)
        rows = forecast_rows(
            _stand_in(key, frame, frames["naive"]),
            model=MODEL,
            key=key,
            as_of=day,
            run_id=run_id,
            run_kind=run_kind,
            interval_level=MODEL_LEVEL,
            model_version_id=version_id,
            gates=gates,
        )
        write_forecasts(session, rows)


def _stand_in(key: SeriesKey, frame: pd.DataFrame, naive: pd.DataFrame) -> pd.DataFrame:
    """The model's stand-in: halfway from naive to the actual close on BTC, naive tilted up 1.5 % on ETH."""
    closes = frame.set_index("ts")["close"]
    actual = naive["target_ts"].map(closes).to_numpy(dtype=float)
    last = naive["yhat"].to_numpy(dtype=float)
    yhat = np.where(np.isfinite(actual), (last + actual) / 2, last) if key == BTC else last * 1.015
    spread = np.exp(0.03 * np.sqrt(naive["horizon"].to_numpy(dtype=float)))
    return naive.assign(yhat=yhat, yhat_lower=yhat / spread, yhat_upper=yhat * spread)


def _failed_run(sessions: sessionmaker[Session]) -> int:
    run_id = start_run(sessions, "manual", parameters={"pairs": ["binance DOGE/USDT 1d"]})
    started = datetime.now(UTC)
    error = RuntimeError("binance has no market 'DOGE/USDT': unknown symbol")
    record_failure(sessions, SeriesKey("binance", "DOGE/USDT", "1d"), "exchange", None, started, error, run_id=run_id)
    finish_run(sessions, run_id, "failed", f"FAILED binance DOGE/USDT 1d: {error}")
    return run_id
