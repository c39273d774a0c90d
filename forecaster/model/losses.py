"""Losses on scaled targets, as training computes them, for the policy and the fit's summary."""

from __future__ import annotations

import numpy as np
import torch

from forecaster.model.artifact import predict_scaled
from forecaster.model.network import BiLSTMGRU


def mse_loss(net: BiLSTMGRU, x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean squared error on scaled targets, as in training."""
    return scaled_mse(predict_scaled(net, x), y)


def scaled_mse(scaled: np.ndarray, y: torch.Tensor) -> float:
    """Mean squared error of network outputs from ``predict_scaled`` against scaled targets."""
    return float(np.mean((scaled - y.numpy()) ** 2))
