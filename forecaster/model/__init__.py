"""The forecasting model library: features, windows, BiLSTM-GRU, training, forecasts, baselines, metrics.

Pure: no database, no Prefect, no exchange client. Candle frames have columns ``ts`` (tz-aware
UTC open time, daily), ``open, high, low, close, volume``, sorted ascending.

The names below load on first use: ``forecaster.model.config`` alone (what a job file needs) imports no
torch or Lightning, so a command refuses a bad job file within a second. ``train`` and ``seed_everything``
come from ``forecaster.model.train`` (the submodule would shadow the function of the same name here).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forecaster.model.artifact import TrainedModel
    from forecaster.model.baselines import baseline_forecast, baseline_names
    from forecaster.model.config import KNOWN_FEATURES, ModelConfig, TrainConfig
    from forecaster.model.policy import choose_mode, parent_val_loss
    from forecaster.model.predict import forecast

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
]
_HOMES = {
    "KNOWN_FEATURES": "config",
    "ModelConfig": "config",
    "TrainConfig": "config",
    "TrainedModel": "artifact",
    "baseline_forecast": "baselines",
    "baseline_names": "baselines",
    "choose_mode": "policy",
    "forecast": "predict",
    "parent_val_loss": "policy",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
