"""The model learns real structure (AR(1) returns) and does not invent it (random walk)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.model import ModelConfig, TrainConfig, TrainedModel, forecast
from forecaster.model.train import seed_everything, train
from tests.support.candles import make_candles

WINDOW, HELD_BACK = 600, 150
MODEL = ModelConfig(lookback=10, horizon=3, lstm_hidden=16, gru_hidden=8, dropout=0.0)
TRAIN = TrainConfig(
    window_days=WINDOW, val_days=60, max_epochs=40, patience=5, batch_size=32, learning_rate=5e-3, accelerator="cpu"
)
# The longest trainings of the suite: 40 epochs on 600-day windows, several times.
pytestmark = pytest.mark.slow


def ar1_returns(n: int, phi: float, seed: int, sigma: float = 0.02) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0.0, sigma, size=n)
    returns = np.zeros(n)
    for t in range(1, n):
        returns[t] = phi * returns[t - 1] + shocks[t]
    return returns


def one_step_mae_ratio(phi: float, seed: int, model_cfg: ModelConfig = MODEL) -> float:
    """1-step MAE of the model over the held-back days after training, relative to naive persistence."""
    return fit_and_score(phi, seed, model_cfg)[0]


def fit_and_score(phi: float, seed: int, model_cfg: ModelConfig = MODEL) -> tuple[float, TrainedModel]:
    """``one_step_mae_ratio`` and the model it scored."""
    candles = make_candles(ar1_returns(20 + WINDOW + HELD_BACK, phi, seed), seed=seed)
    as_of = candles["ts"].iloc[20 + WINDOW - 1]
    seed_everything(seed)
    model = train(candles, as_of, model_cfg, TRAIN)
    close = candles.set_index("ts")["close"]
    model_errors, naive_errors = [], []
    for k in range(HELD_BACK - 1):
        origin = as_of + pd.Timedelta(days=k)
        actual = close[origin + pd.Timedelta(days=1)]
        model_errors.append(abs(actual - forecast(model, candles, origin)["yhat"].iloc[0]))
        naive_errors.append(abs(actual - close[origin]))
    return float(np.mean(model_errors) / np.mean(naive_errors)), model


@pytest.mark.parametrize("seed", [0, 1])
def test_beats_naive_on_ar1_returns(seed: int) -> None:
    # The oracle (true phi) reaches about 0.77-0.80 on these days.
    assert one_step_mae_ratio(0.6, seed) < 0.9


def test_about_naive_on_a_random_walk() -> None:
    assert one_step_mae_ratio(0.0, seed=0) < 1.05


SHRUNK = MODEL.model_copy(update={"shrink": True})


@pytest.mark.parametrize("seed", [0, 1])
def test_shrinkage_keeps_real_structure(seed: int) -> None:
    ratio, model = fit_and_score(0.6, seed, SHRUNK)
    assert len(model.shrink) == MODEL.horizon and model.shrink[0] > 0.9
    assert ratio < 0.9


def test_shrinkage_goes_to_naive_on_random_walks() -> None:
    # The plain least-squares slope landed anywhere in [0, 1] on these (mean 0.7 over seeds 0-5);
    # the Stein-corrected one is 0 on 16 of the 18 steps of seeds 0-5.
    factors = [fit_and_score(0.0, seed, SHRUNK)[1].shrink for seed in (1, 2, 3)]
    assert np.mean(factors) < 0.2
