"""Tiny settings, synthetic candles and the shared real data for the model tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.model import ModelConfig, TrainConfig, TrainedModel, seed_everything, train

START = pd.Timestamp("2021-01-01", tz="UTC")

TINY_MODEL = ModelConfig(lookback=10, horizon=3, lstm_hidden=8, gru_hidden=4, dropout=0.1)
TINY_TRAIN = TrainConfig(
    window_days=200, val_days=30, max_epochs=3, patience=2, finetune_epochs=1, batch_size=32, accelerator="cpu"
)


def make_candles(log_returns: np.ndarray, start: pd.Timestamp = START, seed: int = 0) -> pd.DataFrame:
    """Daily candles whose closes follow ``100 * exp(cumsum(log_returns))``."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(log_returns))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.exp(np.abs(rng.normal(0.0, 0.005, size=(2, len(close)))))
    return pd.DataFrame(
        {
            "ts": pd.date_range(start, periods=len(close), freq="D"),
            "open": open_,
            "high": np.maximum(open_, close) * wick[0],
            "low": np.minimum(open_, close) / wick[1],
            "close": close,
            "volume": rng.lognormal(10.0, 0.3, size=len(close)),
        }
    )


def random_walk(n: int, seed: int = 0, sigma: float = 0.02) -> pd.DataFrame:
    return make_candles(np.random.default_rng(seed).normal(0.0, sigma, size=n), seed=seed)


@pytest.fixture(scope="session")
def candles() -> pd.DataFrame:
    return random_walk(300, seed=1)


@pytest.fixture(scope="session")
def as_of(candles: pd.DataFrame) -> pd.Timestamp:
    return candles["ts"].iloc[249]


@pytest.fixture(scope="session")
def tiny_model(candles: pd.DataFrame, as_of: pd.Timestamp) -> TrainedModel:
    seed_everything(7)
    return train(candles, as_of, TINY_MODEL, TINY_TRAIN)
