"""Shrinkage of predicted returns toward naive, the training-loss option, and their configuration."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pydantic
import pytest

from forecaster.model import ModelConfig, TrainConfig, TrainedModel, forecast
from forecaster.model.shrink import shrink_factors
from forecaster.model.train import seed_everything, train
from forecaster.registry.checkpoint import load_checkpoint, save_checkpoint
from tests.support.tiny import TINY_MODEL, TINY_TRAIN


def test_shrink_factors() -> None:
    rng = np.random.default_rng(0)
    actual = rng.normal(0.0, 0.02, size=(200, 3))
    assert shrink_factors(2.0 * actual, actual) == pytest.approx((0.5, 0.5, 0.5))  # over-confident: halved
    assert shrink_factors(0.5 * actual, actual) == (1.0, 1.0, 1.0)  # never amplified
    assert shrink_factors(-actual, actual) == (0.0, 0.0, 0.0)  # wrong sign: naive
    assert shrink_factors(np.zeros_like(actual), actual) == (0.0, 0.0, 0.0)
    assert max(shrink_factors(rng.normal(0.0, 0.01, size=(200, 3)), actual)) < 0.2  # unrelated: ~naive
    noisy = shrink_factors(actual + rng.normal(0.0, 0.02, size=(200, 3)), actual)  # half signal, half noise
    assert all(0.35 < v < 0.65 for v in noisy)
    with pytest.raises(ValueError, match="equal non-empty"):
        shrink_factors(actual[:, :2], actual)


def test_shrink_is_on_by_default_and_ignored_by_a_close_target() -> None:
    assert ModelConfig().shrink is True and TrainConfig().loss == "mse"
    assert ModelConfig(target="close", features=("close",)).shrink is True  # valid; training skips the factors
    with pytest.raises(pydantic.ValidationError):
        TrainConfig(loss="hinge")


@pytest.fixture(scope="module")
def shrunk(candles: pd.DataFrame, as_of: pd.Timestamp) -> TrainedModel:
    seed_everything(7)
    return train(candles, as_of, TINY_MODEL.model_copy(update={"shrink": True}), TINY_TRAIN)


def test_shrunk_model_applies_its_factors(
    shrunk: TrainedModel, tiny_model: TrainedModel, candles: pd.DataFrame, as_of: pd.Timestamp
) -> None:
    assert len(shrunk.shrink) == TINY_MODEL.horizon
    assert all(0.0 <= v <= 1.0 for v in shrunk.shrink)
    close = candles.loc[candles["ts"] == as_of, "close"].iloc[0]
    unshrunk = forecast(replace(shrunk, shrink=()), candles, as_of)["yhat"].to_numpy()
    returns = np.diff(np.log(np.concatenate([[close], unshrunk])))
    expected = close * np.exp(np.cumsum(returns * np.asarray(shrunk.shrink)))
    np.testing.assert_allclose(forecast(shrunk, candles, as_of)["yhat"].to_numpy(), expected, rtol=1e-9)
    naive = forecast(replace(shrunk, shrink=(0.0,) * TINY_MODEL.horizon), candles, as_of)["yhat"]
    np.testing.assert_allclose(naive.to_numpy(), close, rtol=1e-12)


def test_shrinkage_survives_a_checkpoint_and_a_finetune(
    tmp_path: Path, shrunk: TrainedModel, candles: pd.DataFrame, as_of: pd.Timestamp
) -> None:
    path = tmp_path / "model.pt"
    loaded = load_checkpoint(path, save_checkpoint(shrunk, path))
    assert loaded.shrink == shrunk.shrink
    pd.testing.assert_frame_equal(forecast(loaded, candles, as_of), forecast(shrunk, candles, as_of))
    later = as_of + pd.Timedelta(days=10)
    child = train(candles, later, shrunk.model_config, TINY_TRAIN, parent=loaded)  # refitted on the new tail
    assert len(child.shrink) == TINY_MODEL.horizon


@pytest.mark.parametrize("loss", ["huber", "l1"])
def test_other_training_losses(loss: str, candles: pd.DataFrame, as_of: pd.Timestamp) -> None:
    seed_everything(7)
    model = train(candles, as_of, TINY_MODEL, TINY_TRAIN.model_copy(update={"loss": loss}))
    assert model.train_config.loss == loss and np.isfinite(model.val_loss)
    assert (forecast(model, candles, as_of)["yhat"] > 0).all()
