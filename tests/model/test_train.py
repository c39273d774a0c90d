from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch

from forecaster.model import ModelConfig, TrainedModel, forecast
from forecaster.model.train import seed_everything, train
from tests.support.tiny import TINY_MODEL, TINY_TRAIN


def same_weights(a: TrainedModel, b: TrainedModel) -> bool:
    return a.state_dict.keys() == b.state_dict.keys() and all(
        torch.equal(a.state_dict[name], b.state_dict[name]) for name in a.state_dict
    )


def test_trained_model_record(tiny_model: TrainedModel, as_of: pd.Timestamp) -> None:
    assert tiny_model.mode == "full" and tiny_model.train_end == as_of == tiny_model.last_full_end
    assert tiny_model.train_start == as_of - pd.Timedelta(days=TINY_TRAIN.window_days - 1)
    assert 1 <= tiny_model.epochs <= TINY_TRAIN.max_epochs
    assert len(tiny_model.train_loss_history) == len(tiny_model.val_loss_history) == tiny_model.epochs
    assert tiny_model.val_loss == pytest.approx(min(tiny_model.val_loss_history), rel=1e-4)
    assert len(tiny_model.interval_lower) == len(tiny_model.interval_upper) == TINY_MODEL.horizon
    assert all(lo < hi for lo, hi in zip(tiny_model.interval_lower, tiny_model.interval_upper, strict=True))
    assert tiny_model.seconds > 0 and tiny_model.seed == TINY_TRAIN.seed


def test_nothing_after_as_of_matters(candles: pd.DataFrame, as_of: pd.Timestamp, tiny_model: TrainedModel) -> None:
    altered = candles.copy()
    later = altered["ts"] > as_of
    rng = np.random.default_rng(99)
    for column in ("open", "high", "low", "close", "volume"):
        altered.loc[later, column] = altered.loc[later, column] * rng.uniform(0.1, 10.0, size=later.sum())
    seed_everything(7)
    again = train(altered, as_of, TINY_MODEL, TINY_TRAIN)
    assert same_weights(again, tiny_model)
    assert again.scaler_state == tiny_model.scaler_state
    assert (again.interval_lower, again.interval_upper) == (tiny_model.interval_lower, tiny_model.interval_upper)
    pd.testing.assert_frame_equal(forecast(again, altered, as_of), forecast(tiny_model, candles, as_of))


def test_same_seed_same_weights_other_seed_other_weights(candles: pd.DataFrame, as_of: pd.Timestamp) -> None:
    models = []
    for seed in (3, 3, 4):
        seed_everything(seed)
        models.append(train(candles, as_of, TINY_MODEL, TINY_TRAIN))
    assert same_weights(models[0], models[1])
    assert not same_weights(models[0], models[2])


class WindowCounter(pl.Callback):
    """Counts the training windows fed to the network."""

    seen = 0

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:  # type: ignore[no-untyped-def]
        self.seen += len(batch[0])


class WeightsAtStart(pl.Callback):
    def __init__(self) -> None:
        self.state: dict[str, torch.Tensor] = {}

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.state = {k: v.detach().clone() for k, v in pl_module.net.state_dict().items()}  # type: ignore[union-attr]


def test_finetune_starts_from_parent_and_keeps_its_scaler(
    candles: pd.DataFrame, as_of: pd.Timestamp, tiny_model: TrainedModel
) -> None:
    probe = WeightsAtStart()
    later = as_of + pd.Timedelta(days=20)
    child = train(candles, later, TINY_MODEL, TINY_TRAIN, parent=tiny_model, trainer_overrides={"callbacks": [probe]})
    assert all(torch.equal(probe.state[k], tiny_model.state_dict[k]) for k in tiny_model.state_dict)
    assert not same_weights(child, tiny_model)
    assert child.scaler_state == tiny_model.scaler_state
    assert child.mode == "finetune" and child.epochs == TINY_TRAIN.finetune_epochs
    assert child.train_end == later and child.last_full_end == tiny_model.last_full_end


def test_finetune_days_trains_on_the_newest_windows_only(
    candles: pd.DataFrame, as_of: pd.Timestamp, tiny_model: TrainedModel
) -> None:
    later = as_of + pd.Timedelta(days=5)
    recent = TINY_TRAIN.model_copy(update={"finetune_days": 32})
    tuned, retrained = WindowCounter(), WindowCounter()
    child = train(candles, later, TINY_MODEL, recent, parent=tiny_model, trainer_overrides={"callbacks": [tuned]})
    assert tuned.seen == 32  # one epoch of the windows of the 32 newest training days
    assert child.mode == "finetune" and child.scaler_state == tiny_model.scaler_state
    assert not same_weights(child, tiny_model)
    full = train(candles, later, TINY_MODEL, recent, trainer_overrides={"callbacks": [retrained]})
    per_epoch = retrained.seen / full.epochs  # a full retrain still trains on the whole window
    assert per_epoch == TINY_TRAIN.window_days - TINY_TRAIN.val_days - TINY_MODEL.lookback - TINY_MODEL.horizon


def test_finetune_needs_the_parents_model_config(candles: pd.DataFrame, tiny_model: TrainedModel) -> None:
    other = ModelConfig(**{**TINY_MODEL.model_dump(), "lstm_hidden": 16})
    with pytest.raises(ValueError, match="parent's ModelConfig"):
        train(candles, tiny_model.train_end, other, TINY_TRAIN, parent=tiny_model)


def test_forecast_frame(candles: pd.DataFrame, as_of: pd.Timestamp, tiny_model: TrainedModel) -> None:
    frame = forecast(tiny_model, candles, as_of)
    assert list(frame.columns) == ["horizon", "target_ts", "yhat", "yhat_lower", "yhat_upper"]
    assert frame["horizon"].tolist() == [1, 2, 3]
    assert frame["target_ts"].tolist() == [as_of + pd.Timedelta(days=h) for h in (1, 2, 3)]
    assert (frame["yhat_lower"] < frame["yhat_upper"]).all() and (frame["yhat"] > 0).all()


def test_forecast_needs_recent_contiguous_days(
    candles: pd.DataFrame, as_of: pd.Timestamp, tiny_model: TrainedModel
) -> None:
    missing_day = as_of - pd.Timedelta(days=3)
    gapped = candles[candles["ts"] != missing_day].reset_index(drop=True)
    bridged = forecast(tiny_model, gapped, as_of)  # one missing input day: bridged, and said so
    assert bridged.attrs["bridged"] == [str(missing_day.date())]
    assert forecast(tiny_model, candles, as_of).attrs["bridged"] == []
    strict = replace(tiny_model, model_config=tiny_model.model_config.model_copy(update={"max_bridged_days": 0}))
    with pytest.raises(ValueError, match=rf"needs the 11 daily candles .*at most 0 days bridged.*{missing_day.date()}"):
        forecast(strict, gapped, as_of)
    with pytest.raises(ValueError, match="1 missing"):
        forecast(tiny_model, candles[candles["ts"] < as_of], as_of)
    with pytest.raises(ValueError, match="naive"):
        forecast(tiny_model, candles, as_of.tz_localize(None))


def test_quantile_head_forecasts_contain_the_point(candles: pd.DataFrame, as_of: pd.Timestamp) -> None:
    cfg = TINY_MODEL.model_copy(update={"quantile_head": True, "interval_scale": "quantile"})
    seed_everything(3)
    model = train(candles, as_of, cfg, TINY_TRAIN)
    # the tiny 20-day validation tail leaves fewer than 30 windows: the history residuals calibrate, each divided
    # by the network's band on its day (one batched pass over the fit's windows)
    assert model.interval_basis == "quantile" and model.interval_source == "history"
    assert model.state_dict["head.weight"].shape == (3 * cfg.horizon, cfg.gru_hidden)
    for day in pd.date_range(as_of, periods=5, freq="D"):
        result = forecast(model, candles, day)
        assert np.isfinite(result[["yhat", "yhat_lower", "yhat_upper"]].to_numpy()).all()
        assert (result["yhat_lower"] <= result["yhat"]).all() and (result["yhat"] <= result["yhat_upper"]).all()
        assert (result["yhat_upper"] - result["yhat_lower"]).diff().dropna().ge(-1e-9).all()  # never narrows in h
