from __future__ import annotations

import pytest
from pydantic import ValidationError

from forecaster.model import KNOWN_FEATURES, ModelConfig, TrainConfig


def test_defaults() -> None:
    cfg = ModelConfig()
    assert (cfg.lookback, cfg.horizon, cfg.lstm_hidden, cfg.gru_hidden, cfg.dropout) == (60, 7, 64, 32, 0.2)
    assert cfg.target == "log_return" and cfg.interval_level == 0.8
    assert TrainConfig().window_days == 730 and TrainConfig().full_retrain_every_days == 7


def test_unknown_feature_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown feature") as info:
        ModelConfig(features=("log_return", "rsi"))
    for name in KNOWN_FEATURES:
        assert name in str(info.value)


def test_configs_are_frozen_and_strict() -> None:
    cfg = ModelConfig()
    with pytest.raises(ValidationError):
        cfg.lookback = 5
    with pytest.raises(ValidationError):
        ModelConfig(lookbak=5)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="val_days"):
        TrainConfig(window_days=100, val_days=100)


def test_quantile_scale_needs_the_quantile_head() -> None:
    assert ModelConfig().quantile_head is False and ModelConfig().interval_scale == "flat"
    with pytest.raises(ValidationError, match="quantile_head"):
        ModelConfig(interval_scale="quantile")
    with pytest.raises(ValidationError, match="target 'log_return'"):
        ModelConfig(quantile_head=True, target="close")
    cfg = ModelConfig(quantile_head=True, interval_scale="quantile")
    assert cfg.quantile_head and cfg.interval_scale == "quantile"
    assert ModelConfig(quantile_head=True).interval_scale == "flat"  # the head alone keeps the default scale
    assert "abs_return" in KNOWN_FEATURES and ModelConfig(features=("log_return", "abs_return", "range"))
