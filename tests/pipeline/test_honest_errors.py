"""Only the expected errors are caught: a model forecast skipped for a reason that can pass leaves the day
owed (the next run writes it); any other error fails the step; only the registration of the same day
by another run counts as "already registered"."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from forecaster.db.models import Checkpoint, Forecast, ModelVersion
from forecaster.model.artifact import TrainedModel
from forecaster.model.train import seed_everything, train
from forecaster.pipeline.forecast import forecast_step
from forecaster.pipeline.plan import days_to_forecast
from forecaster.registry.checkpoint import save_checkpoint
from forecaster.registry.versions import save_and_register
from forecaster.series import SeriesKey
from tests.support.candles import store_candles, window
from tests.support.tiny import TINY_JOB

KEY = SeriesKey("binance", "BTC/USDT", "1d")


@pytest.fixture(scope="module")
def model(btc: pd.DataFrame) -> TrainedModel:
    """One tiny model as of the window's last day, trained once for the module."""
    seed_everything(TINY_JOB.train.seed)
    candles = window(btc)
    return train(candles, candles["ts"].iloc[-1], TINY_JOB.model, TINY_JOB.train)


@pytest.fixture
def registered(model: TrainedModel, btc: pd.DataFrame, sessions, tmp_path: Path) -> ModelVersion:
    """The window's candles stored and the model registered, as a train step leaves them."""
    store_candles(sessions, KEY, window(btc))
    return save_and_register(
        sessions, tmp_path / "checkpoints", KEY, model, run_kind="live", parent_id=None, run_id=None, manifest={}
    )


def models_written(sessions) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(Forecast.model).distinct()))


def test_a_model_forecast_skipped_for_an_unreadable_checkpoint_stays_owed_and_is_written_next_run(
    registered, sessions, tmp_path
):
    as_of = registered.train_end
    cache = tmp_path / "checkpoints"
    checkpoint = cache / registered.checkpoint_path
    aside = tmp_path / "aside.ckpt"
    # not readable here: no file in the cache and no bytes in the database, as for a version registered
    # before checkpoints were stored, whose file lived on another machine
    shutil.move(checkpoint, aside)
    with sessions.begin() as session:
        stored = session.get_one(Checkpoint, registered.id)
        session.delete(stored)

    first = forecast_step(sessions, KEY, as_of, TINY_JOB, checkpoint_dir=cache)
    assert sorted(first.written) == ["drift", "garch", "moving_average", "naive"]
    assert first.problems and first.problems[0].startswith("model skipped: cannot read checkpoint")
    assert "the next run tries again" in first.problems[0]
    assert days_to_forecast(sessions, KEY, None, 7, "live") == [as_of]  # the model's forecast is still owed

    shutil.move(aside, checkpoint)
    second = forecast_step(sessions, KEY, as_of, TINY_JOB, checkpoint_dir=cache)
    assert second.written == ["bilstm_gru"] and sorted(second.skipped) == ["drift", "garch", "moving_average", "naive"]
    assert days_to_forecast(sessions, KEY, None, 7, "live") == []
    assert models_written(sessions) == {"bilstm_gru", "drift", "garch", "moving_average", "naive"}


def test_an_unexpected_error_in_the_model_forecast_fails_the_step_and_writes_nothing(
    registered, model, sessions, tmp_path
):
    # A checkpoint that loads, under its registered hash, but whose scaler does not fit its features:
    # a fault (a bug, a broken artifact) to surface, not a reason to skip the model quietly.
    scaler = {**model.scaler_state}
    scaler["offset"], scaler["scale"] = [*scaler["offset"], 0.0], [*scaler["scale"], 1.0]
    cache = tmp_path / "checkpoints"
    sha256 = save_checkpoint(replace(model, scaler_state=scaler), cache / registered.checkpoint_path)
    with sessions.begin() as session:
        session.get_one(ModelVersion, registered.id).checkpoint_sha256 = sha256

    with pytest.raises(ValueError, match="broadcast"):
        forecast_step(sessions, KEY, registered.train_end, TINY_JOB, checkpoint_dir=cache)
    assert models_written(sessions) == set()


def test_an_integrity_error_other_than_the_same_day_is_raised(registered, model, sessions, tmp_path):
    next_day = replace(model, train_end=model.train_end + pd.Timedelta(days=1))
    with pytest.raises(IntegrityError):  # a parent that does not exist: a foreign-key violation
        save_and_register(
            sessions,
            tmp_path / "checkpoints",
            KEY,
            next_day,
            run_kind="live",
            parent_id=10**9,
            run_id=None,
            manifest={},
        )
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ModelVersion)) == 1
    assert [path.name for path in (tmp_path / "checkpoints").rglob("*.ckpt")] == [Path(registered.checkpoint_path).name]

    # the same day registered again is still the other run's registration
    again = save_and_register(
        sessions, tmp_path / "checkpoints", KEY, model, run_kind="live", parent_id=None, run_id=None, manifest={}
    )
    assert again.id == registered.id


def test_a_model_forecast_skipped_for_a_gap_in_its_input_stays_owed_and_is_written_once_healed(
    model, btc, sessions, tmp_path
):
    candles = window(btc)
    as_of = candles["ts"].iloc[-1].to_pydatetime()
    missing = candles["ts"].between(as_of - pd.Timedelta(days=6), as_of - pd.Timedelta(days=2))  # 5 days > 3
    store_candles(sessions, KEY, candles[~missing])
    save_and_register(
        sessions, tmp_path / "checkpoints", KEY, model, run_kind="live", parent_id=None, run_id=None, manifest={}
    )

    first = forecast_step(sessions, KEY, as_of, TINY_JOB)
    assert sorted(first.written) == ["drift", "garch", "moving_average", "naive"]
    assert first.problems and first.problems[0].startswith(f"model skipped: forecast as of {as_of:%Y-%m-%d} needs")
    assert "the next run tries again" in first.problems[0]
    assert days_to_forecast(sessions, KEY, None, 7, "live") == [as_of]  # the model's forecast is still owed

    store_candles(sessions, KEY, candles[missing])  # a later ingest brings the missing days
    second = forecast_step(sessions, KEY, as_of, TINY_JOB)
    assert second.written == ["bilstm_gru"] and sorted(second.skipped) == ["drift", "garch", "moving_average", "naive"]
    assert days_to_forecast(sessions, KEY, None, 7, "live") == []
