"""The forecasting model library: features, windows, BiLSTM-GRU, training, forecasts, baselines, metrics.

Pure: no database, no Prefect, no exchange client. Candle frames have columns ``ts`` (tz-aware
UTC open time, daily), ``open, high, low, close, volume``, sorted ascending.
"""

from forecaster.model.artifact import TrainedModel
from forecaster.model.baselines import baseline_forecast, baseline_names
from forecaster.model.config import KNOWN_FEATURES, ModelConfig, TrainConfig
from forecaster.model.policy import choose_mode, parent_val_loss
from forecaster.model.predict import forecast
from forecaster.model.train import seed_everything, train

__all__ = [
    "KNOWN_FEATURES",
    "ModelConfig",
    "TrainConfig",
    "TrainedModel",
    "baseline_forecast",
    "baseline_names",
    "choose_mode",
    "forecast",
    "parent_val_loss",
    "seed_everything",
    "train",
]
