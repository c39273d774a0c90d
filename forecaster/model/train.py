"""``train``: a full retrain or a warm-started fine-tune on the window ending at ``as_of``.

Nothing after ``as_of`` is read: the window is cut first (``data.py``), the scaler is fitted
on its training part, the conformal quantiles come from its validation tail.

The validation tail picks the epoch (early stopping), fits the shrinkage and calibrates the start-up
intervals, all with the weights it has not trained on. Then ``tail_epochs`` epochs over the validation
windows train the weights through the as-of day: the served model has seen the newest candles.

Fine-tuning starts from the parent's weights and KEEPS THE PARENT'S SCALER: the weights were
learnt on inputs scaled with those statistics, and refitting them on the shifted window would
feed the same weights differently scaled inputs. A new scaler comes only with a full retrain.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping

from forecaster.model.artifact import Mode, TrainedModel, outputs_to_prices, predict_outputs
from forecaster.model.calibration import band_scales, start_up_calibration
from forecaster.model.config import ModelConfig, TrainConfig
from forecaster.model.data import CandleDataModule, Windows, cut_window
from forecaster.model.features import check_as_of
from forecaster.model.losses import mse_loss, scaled_mse
from forecaster.model.module import EpochTracker, ForecastModule
from forecaster.model.network import BiLSTMGRU, split_outputs
from forecaster.model.recurrent import uses_bf16
from forecaster.model.scaling import Scaler
from forecaster.model.shrink import shrink_factors

_TINY_PRICE = 1e-12
_LIGHTNING_NOTICES = logging.getLogger("pytorch_lightning.utilities.rank_zero")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch once, at the entry of a run (never inside constructors)."""
    pl.seed_everything(seed, workers=True, verbose=False)


def train(
    candles: pd.DataFrame,
    as_of: pd.Timestamp,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    *,
    parent: TrainedModel | None = None,
    trainer_overrides: dict[str, Any] | None = None,
) -> TrainedModel:
    """Train on the ``train_cfg.window_days`` days ending at ``as_of``: in full, or fine-tune ``parent``.

    Args:
        candles: daily candle frame; rows after ``as_of`` are ignored.
        as_of: open time of the last candle training may see (tz-aware).
        model_cfg: architecture and features; must equal the parent's when fine-tuning.
        train_cfg: window, epochs, optimiser settings.
        parent: the model to warm-start from; ``None`` trains in full.
        trainer_overrides: extra ``pl.Trainer`` keyword arguments (their ``callbacks`` are added).

    Returns:
        The trained model with its scaler, interval quantiles, losses and history.

    Raises:
        ValueError: the window is too short or gapped for the model, or the parent does not fit.
    """
    started = time.perf_counter()
    as_of = check_as_of(as_of)
    mode: Mode = "full" if parent is None else "finetune"
    if parent is not None and parent.model_config != model_cfg:
        raise ValueError(
            f"fine-tuning needs the parent's ModelConfig: parent {parent.model_config!r}, asked {model_cfg!r}"
        )
    if parent is None:
        data = CandleDataModule(candles, as_of, model_cfg, train_cfg)
    else:
        data = CandleDataModule(
            candles, as_of, model_cfg, train_cfg, scaler=parent.scaler(), train_days=train_cfg.finetune_days
        )
    data.setup("fit")
    module = ForecastModule(
        len(model_cfg.features),
        model_cfg.horizon,
        model_cfg.lstm_hidden,
        model_cfg.gru_hidden,
        model_cfg.dropout,
        train_cfg.learning_rate,
        train_cfg.loss,
        bf16=uses_bf16(train_cfg.precision),
        quantile_head=model_cfg.quantile_head,
        interval_level=model_cfg.interval_level,
    )
    if parent is not None:
        module.net.load_state_dict(parent.state_dict)
    tracker = EpochTracker()
    with _quiet_lightning():
        _trainer(train_cfg, mode, tracker, trainer_overrides or {}).fit(module, datamodule=data)

    state = {name: value.detach().cpu().clone() for name, value in module.net.state_dict().items()}
    net = BiLSTMGRU(
        len(model_cfg.features),
        model_cfg.horizon,
        model_cfg.lstm_hidden,
        model_cfg.gru_hidden,
        model_cfg.dropout,
        model_cfg.quantile_head,
    )
    net.load_state_dict(state)
    assert data.scaler is not None and data.train_windows is not None and data.val_windows is not None
    assert data.window_start is not None
    val_outputs = predict_outputs(net, data.val_windows.x)  # one pass serves the val loss, shrinkage and intervals
    val_scaled = val_outputs[:, : model_cfg.horizon]
    shrinks = model_cfg.shrink and model_cfg.target == "log_return"
    shrink = validation_shrink(val_scaled, data.val_windows, data.scaler) if shrinks else ()
    calibration = start_up_calibration(
        log_residuals(val_scaled, data.val_windows, data.scaler, model_cfg.target, shrink),
        pd.DatetimeIndex(data.val_windows.anchor_ts).tz_localize("UTC"),
        cut_window(candles, as_of, train_cfg.window_days),
        model_cfg.interval_level,
        model_cfg.interval_scale,
        _band_by_day(net, data.train_windows, data.val_windows, val_outputs, data.scaler)
        if model_cfg.interval_scale == "quantile"
        else None,
    )
    train_loss = mse_loss(net, data.train_windows.x, data.train_windows.y)
    val_loss = scaled_mse(val_scaled, data.val_windows.y)
    if train_cfg.tail_epochs:
        with _quiet_lightning():
            _tail_trainer(train_cfg).fit(module, train_dataloaders=data.tail_dataloader())
        state = {name: value.detach().cpu().clone() for name, value in module.net.state_dict().items()}
    return TrainedModel(
        state_dict=state,
        model_config=model_cfg,
        train_config=train_cfg,
        scaler_state=data.scaler.state(),
        interval_lower=calibration.lower,
        interval_upper=calibration.upper,
        train_start=data.window_start,
        train_end=as_of,
        last_full_end=as_of if parent is None else parent.last_full_end,
        train_loss=train_loss,
        val_loss=val_loss,
        epochs=len(tracker.train_history),
        seconds=time.perf_counter() - started,
        seed=train_cfg.seed,
        mode=mode,
        train_loss_history=tuple(tracker.train_history),
        val_loss_history=tuple(tracker.val_history),
        shrink=shrink,
        interval_source=calibration.source,
        interval_basis=model_cfg.interval_scale,
    )


def _band_by_day(
    net: BiLSTMGRU, train_windows: Windows, val_windows: Windows, val_outputs: np.ndarray, scaler: Scaler
) -> pd.DataFrame:
    """The network's band scales (``band_scales``) for every window of the fit, indexed by its anchor day
    (UTC): the validation windows' from ``val_outputs``, the training windows' from one batched pass."""
    outputs = np.concatenate([predict_outputs(net, train_windows.x), val_outputs])
    anchors = np.concatenate([train_windows.anchor_ts, val_windows.anchor_ts])
    _, band = split_outputs(torch.from_numpy(outputs), net.horizon)
    assert band is not None
    frame = pd.DataFrame(band_scales(band.numpy(), scaler), index=pd.DatetimeIndex(anchors).tz_localize("UTC"))
    return frame[~frame.index.duplicated(keep="last")]


def validation_shrink(scaled: np.ndarray, windows: Windows, scaler: Scaler) -> tuple[float, ...]:
    """Per-step shrinkage of predicted daily log returns toward 0, fitted on ``windows`` (see ``shrink_factors``).

    ``scaled``: the network's outputs for ``windows`` (``predict_scaled``).
    """
    predicted = scaler.inverse_target(scaled)
    actual = scaler.inverse_target(windows.y.numpy().astype(float))
    return shrink_factors(predicted, actual)


def log_residuals(
    scaled: np.ndarray, windows: Windows, scaler: Scaler, target: str, shrink: tuple[float, ...] = ()
) -> np.ndarray:
    """``log(actual) - log(yhat)`` per window and horizon (N, K), from the network's outputs ``scaled`` for
    ``windows``, with ``shrink`` applied to the predictions."""
    prices = outputs_to_prices(scaled, windows.anchor_close, scaler, target, shrink)
    return np.log(windows.future_close) - np.log(np.maximum(prices, _TINY_PRICE))


@contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Lightning's notices of every fit (accelerators found, tips, "max_epochs reached") and two harmless
    warnings silenced; its other warnings and errors still show."""
    previous = _LIGHTNING_NOTICES.level
    _LIGHTNING_NOTICES.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
            warnings.filterwarnings("ignore", message=r".*have no `val_dataloader`.*")  # the tail epochs
            yield
    finally:
        _LIGHTNING_NOTICES.setLevel(previous)


def _tail_trainer(train_cfg: TrainConfig) -> pl.Trainer:
    """``tail_epochs`` epochs over the validation windows, without validation (nothing is left to hold out)."""
    return pl.Trainer(
        accelerator=train_cfg.accelerator,
        devices=1,
        max_epochs=train_cfg.tail_epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=train_cfg.progress_bar,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )


def _trainer(train_cfg: TrainConfig, mode: Mode, tracker: EpochTracker, overrides: dict[str, Any]) -> pl.Trainer:
    callbacks: list[pl.Callback] = [tracker]
    if mode == "full":
        callbacks.append(EarlyStopping(monitor="val_loss", patience=train_cfg.patience, mode="min"))
    kwargs: dict[str, Any] = {
        "accelerator": train_cfg.accelerator,
        "devices": 1,
        "max_epochs": train_cfg.max_epochs if mode == "full" else train_cfg.finetune_epochs,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": train_cfg.progress_bar,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
    }
    extra = dict(overrides)
    callbacks.extend(extra.pop("callbacks", []))
    kwargs.update(extra)
    return pl.Trainer(callbacks=callbacks, **kwargs)
