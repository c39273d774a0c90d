"""The forecast step: the model's forecast set of one as-of day next to every baseline's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.errors import InputError
from forecaster.model.artifact import TrainedModel
from forecaster.model.baselines import baseline_forecast, baseline_names
from forecaster.model.calibration import serving_calibration
from forecaster.model.intervals import LEDGER_DAYS
from forecaster.model.predict import HistoryGapError, forecast
from forecaster.pipeline.config import JobConfig
from forecaster.pipeline.inputs import TORCH_TURN, read_history
from forecaster.registry.checkpoint import CheckpointError
from forecaster.registry.versions import latest_version, load_version
from forecaster.results.forecasts import MODEL, forecast_rows, models_with_forecasts, write_forecasts
from forecaster.results.gate import Gate, naive_gate
from forecaster.results.ledger import track_record
from forecaster.series import SeriesKey
from forecaster.timeframes import require_daily

# The reasons a model forecast is skipped while the baselines are written: its input misses more days
# than may be bridged (a later ingest may heal them), or its checkpoint cannot be read here (another
# machine's, or replaced). The day then stays owed for the model (``pipeline.plan``). Any other error
# is a fault and fails the step.
MODEL_SKIPPED = (HistoryGapError, CheckpointError)


@dataclass
class ForecastOutcome:
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gate: Gate | None = None  # the naive gate at horizon 1, when the model was forecast

    def line(self, key: SeriesKey, as_of: datetime) -> str:
        parts = [f"{key} as of {as_of:%Y-%m-%d}: wrote {', '.join(self.written) or 'nothing'}"]
        if self.skipped:
            parts.append(f"already there: {', '.join(self.skipped)}")
        if self.gate is not None:
            parts.append(f"gate at horizon 1: {self.gate.verdict()}")
        return "; ".join(parts + self.notes + self.problems)


def forecast_step(
    sessions: sessionmaker[Session],
    key: SeriesKey,
    as_of: datetime,
    config: JobConfig,
    *,
    run_id: int | None = None,
    with_model: bool = True,
    checkpoint_dir: Path | None = None,
) -> ForecastOutcome:
    """Write the forecast set of ``as_of``: the model (when a version is trained) and every baseline.

    All rows go in one transaction; models already forecast for this day are left as they are.
    ``with_model=False`` (the day's training failed) writes the baselines only: the day stays owed
    for the model, which the next run forecasts. The model's checkpoint comes from the cache under
    ``checkpoint_dir`` or, on a miss, the database. A baseline's fallbacks (its frame's ``attrs["notes"]``, e.g.
    intervals from 1-day returns) are added to ``problems``, after the model's.
    """
    require_daily(key.timeframe)
    outcome = ForecastOutcome()
    with sessions() as session:
        done = models_with_forecasts(session, key, as_of, config.run_kind)
        version = latest_version(session, key, config.run_kind, as_of)
    wanted = [MODEL, *baseline_names()]
    outcome.skipped = [name for name in wanted if name in done]
    if len(outcome.skipped) == len(wanted):
        return outcome
    candles = read_history(sessions, key, as_of, config.history_days)
    if candles.empty or candles["ts"].iloc[-1] != pd.Timestamp(as_of):
        raise InputError(f"no candle of {key} for {as_of:%Y-%m-%d}: ingest it first, or pick a stored day")
    frames: dict[str, pd.DataFrame] = {}
    levels = dict.fromkeys(baseline_names(), config.model.interval_level)
    notes: list[str] = []  # the baselines' fallbacks (attrs["notes"]), said after the model's problems
    for name in baseline_names():
        if name not in done:
            frames[name] = baseline_forecast(
                name,
                candles,
                pd.Timestamp(as_of),
                horizon=config.model.horizon,
                interval_level=config.model.interval_level,
                window_days=config.train.window_days,
            )
            notes += frames[name].attrs.get("notes", [])
    if MODEL not in done:
        if not with_model:
            outcome.problems.append("training failed: baselines only, the model is forecast by the next run")
        else:
            load = None if version is None else partial(load_version, sessions, version, checkpoint_dir)
            with sessions() as session:
                record = track_record(session, key, config.run_kind, MODEL, as_of, LEDGER_DAYS)
            _add_model(frames, levels, outcome, load, candles, as_of, record)
    outcome.problems += notes
    with sessions.begin() as session:
        gates = naive_gate(session, key, as_of, config.run_kind, MODEL, config.gate) if MODEL in frames else {}
        for name, frame in frames.items():
            rows = forecast_rows(
                frame,
                model=name,
                key=key,
                as_of=as_of,
                run_id=run_id,
                run_kind=config.run_kind,
                interval_level=levels[name],
                model_version_id=version.id if name == MODEL and version is not None else None,
                gates=gates if name == MODEL else None,
            )
            write_forecasts(session, rows)
    outcome.written = list(frames)
    outcome.gate = gates.get(1, Gate(0, None, None, None)) if MODEL in frames else None
    return outcome


def _add_model(
    frames: dict[str, pd.DataFrame],
    levels: dict[str, float],
    outcome: ForecastOutcome,
    load: Callable[[], TrainedModel] | None,
    candles: pd.DataFrame,
    as_of: datetime,
    record: pd.DataFrame,
) -> None:
    """The model's forecast frame, when a version is trained (``load`` reads it) and can forecast this day.

    Its intervals are calibrated as ``calibration.serving_calibration`` says, with ``record``, the model's
    track record, adapting their level."""
    if load is None:
        outcome.problems.append("no trained model yet: baselines only")
        return
    try:
        trained = load()
        window_days = trained.train_config.window_days
        calibration = serving_calibration(record, candles, trained.model_config, trained.interval_basis, window_days)
        with TORCH_TURN:
            frames[MODEL] = forecast(trained, candles, pd.Timestamp(as_of), calibration)
    except MODEL_SKIPPED as exc:
        outcome.problems.append(f"model skipped: {exc} (the day stays owed: the next run tries again)")
        return
    levels[MODEL] = trained.model_config.interval_level
    outcome.notes.append(frames[MODEL].attrs["calibration"])
    if frames[MODEL].attrs.get("bridged"):
        bridged = ", ".join(frames[MODEL].attrs["bridged"])
        outcome.problems.append(f"model input bridged missing days {bridged} (log-linear)")
