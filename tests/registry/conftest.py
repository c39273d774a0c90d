"""A tiny trained model on synthetic candles, for the registry's tests."""

from __future__ import annotations

import pandas as pd
import pytest

from forecaster.exchange.synthetic import synthetic_candles
from forecaster.model import ModelConfig, TrainConfig, TrainedModel, seed_everything, train
from forecaster.series import SeriesKey

KEY = SeriesKey("binance", "BTC/USDT", "1d")
TINY_MODEL = ModelConfig(lookback=10, horizon=3, lstm_hidden=8, gru_hidden=4)
TINY_TRAIN = TrainConfig(window_days=120, val_days=20, max_epochs=1, batch_size=64, accelerator="cpu")


@pytest.fixture(scope="session")
def tiny_model() -> TrainedModel:
    candles = synthetic_candles(KEY.symbol, "2024-01-01", "2024-06-30")
    seed_everything(7)
    return train(candles, pd.Timestamp("2024-06-30", tz="UTC"), TINY_MODEL, TINY_TRAIN)
