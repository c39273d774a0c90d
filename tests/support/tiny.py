"""The tiny training configuration every test uses: CPU, a few small epochs, no progress bar.

Tests that need another setting derive it from these (``TINY_MODEL.model_copy(update=...)``) rather than
writing a configuration of their own.
"""

from __future__ import annotations

from forecaster.model.config import ModelConfig, TrainConfig
from forecaster.pipeline.config import JobConfig
from forecaster.results.gate import GateConfig
from forecaster.series import SeriesKey

TINY_MODEL = ModelConfig(lookback=10, horizon=3, lstm_hidden=8, gru_hidden=4, dropout=0.1)
TINY_TRAIN = TrainConfig(
    window_days=120, val_days=20, max_epochs=2, patience=2, finetune_epochs=1, batch_size=64, accelerator="cpu"
)
TINY_JOB = JobConfig(model=TINY_MODEL, train=TINY_TRAIN, gate=GateConfig(min_pairs=5))


def params(*symbols: str, **values: object) -> dict[str, object]:
    """The daily flow's parameters for these ``binance`` symbols with the tiny job: ``daily(**params(...))``."""
    return {"pairs": [SeriesKey("binance", symbol) for symbol in symbols], "job": TINY_JOB, **values}
