"""Typed, frozen configuration of the network (``ModelConfig``) and of its training (``TrainConfig``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Feature names a ``ModelConfig`` may ask for; their definitions live in ``features.py``.
KNOWN_FEATURES: tuple[str, ...] = ("close", "log_return", "abs_return", "range", "volume_change", "body")

Target = Literal["log_return", "close"]
Scaling = Literal["standard", "minmax"]
Loss = Literal["mse", "huber", "l1"]
Precision = Literal["auto", "float32", "bfloat16"]
IntervalScale = Literal["volatility", "garch", "flat", "quantile"]
IntervalResiduals = Literal["history", "track_record"]


class ModelConfig(BaseModel):
    """What the network sees and predicts.

    The defaults are the walk-forward winner documented in ``docs/model.md``: daily log returns
    in, the next ``horizon`` daily log returns out (turned back into prices), standardised with
    statistics of the training part only.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lookback: int = Field(default=60, ge=2, le=3650, description="Days of features the network reads.")
    horizon: int = Field(default=7, ge=1, le=366, description="Days ahead it predicts directly, 1..horizon.")
    lstm_hidden: int = Field(default=64, ge=1, description="Hidden size per direction of the BiLSTM.")
    gru_hidden: int = Field(default=32, ge=1)
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    features: tuple[str, ...] = Field(default=("log_return",), min_length=1)
    target: Target = "log_return"
    scaling: Scaling = Field(default="standard", description="Standardise, or MinMax to [0, 1] (reference).")
    interval_level: float = Field(default=0.8, gt=0.0, lt=1.0)
    interval_scale: IntervalScale = Field(
        default="flat",
        description=(
            "Scale of the residuals that calibrate the intervals: 'volatility' divides each by the day's EWMA "
            "volatility x sqrt(h), so intervals widen in storms and narrow in calms; 'garch' by the h-day sd "
            "of a GARCH(1,1)-t fitted on the window, which also reverts to the long-run level over the horizon; "
            "'flat' leaves them as they are; 'quantile' divides each by the half-width of the network's own "
            "predicted quantile band (needs quantile_head; docs/model.md, 'Intervals' and 'Quantile head and "
            "volatility inputs'). 'flat' is the default: in the 365-day backtests of BTC, ETH and SOL (two seeds) "
            "it tied 'volatility' one day ahead and beat it seven days ahead (docs/backtest.md, 'Intervals')."
        ),
    )
    quantile_head: bool = Field(
        default=False,
        description=(
            "The dense head also predicts, per horizon h, the (1 - interval_level)/2 and (1 + interval_level)/2 "
            "quantiles of the cumulative scaled target (the sum of the first h scaled daily log returns), trained "
            "with the pinball loss added to the point loss; off: the point head alone, as before."
        ),
    )
    interval_residuals: IntervalResiduals = Field(
        default="history",
        description=(
            "The residuals whose quantiles make the intervals: 'history', the h-day moves of the training window "
            "(a naive forecast's residuals, ~700 per horizon); 'track_record', the model's own scored errors once "
            "it has 60 per horizon (the fit's validation windows before). Chosen by backtest (docs/model.md)."
        ),
    )
    interval_gamma: float = Field(
        default=0.005,
        ge=0.0,
        le=0.1,
        description=(
            "Step of adaptive conformal inference on the model's track record: how far each scored forecast "
            "moves the level of its horizon's next intervals (divided by the horizon; 0: fixed at interval_level)."
        ),
    )
    max_bridged_days: int = Field(
        default=3,
        ge=0,
        description="Longest gap (days) a forecast's input window may bridge (log-linear); longer ones skip the model.",
    )
    shrink: bool = Field(
        default=True,
        description=(
            "Shrink each horizon's predicted daily log return toward 0 (naive) by a factor in [0, 1] fitted "
            "by least squares on the validation windows after every fit; the default, chosen by the BTC/USDT "
            "backtest (docs/backtest.md). Applies to the log_return target only (a close target ignores it)."
        ),
    )

    @field_validator("features")
    @classmethod
    def _known_features(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in KNOWN_FEATURES]
        if unknown:
            raise ValueError(f"unknown feature(s) {unknown}; known features are {list(KNOWN_FEATURES)}")
        if len(set(value)) != len(value):
            raise ValueError(f"features repeat a name: {list(value)}")
        return value

    @model_validator(mode="after")
    def _quantile_scale_needs_head(self) -> ModelConfig:
        if self.interval_scale == "quantile" and not self.quantile_head:
            raise ValueError("interval_scale 'quantile' needs quantile_head=True (the band it scales by)")
        if self.quantile_head and self.target != "log_return":
            raise ValueError("quantile_head needs target 'log_return' (its band is of cumulative log returns)")
        return self


class TrainConfig(BaseModel):
    """How and on what window a model is trained, and when the ``auto`` policy retrains in full."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_days: int = Field(default=730, ge=2, description="Calendar days ending at the as-of candle.")
    val_days: int = Field(default=90, ge=1, description="Chronological validation tail, in calendar days.")
    max_epochs: int = Field(default=20, ge=1)
    patience: int = Field(
        default=3,
        ge=1,
        description=(
            "Epochs without a better val loss before a full retrain stops (the best epoch's weights are kept); "
            "3 instead of 4 ran 23 % fewer epochs in the backtest for the same accuracy (docs/backtest.md)."
        ),
    )
    finetune_epochs: int = Field(default=1, ge=1, description="Epochs of a warm-started fine-tune.")
    tail_epochs: int = Field(
        default=0,
        ge=0,
        description=(
            "After each fit, epochs over the validation windows, so that the weights that forecast have trained "
            "through the as-of day; the validation loss, the shrinkage and the start-up intervals come from the "
            "weights before them (out of sample). 0, the default: one epoch made the ETH/USDT backtest's point "
            "forecasts worse (MAE 1.010x naive's at h1 and 1.016x at h7, against 1.003x and 1.008x without; "
            "docs/backtest.md, 'Intervals'), likely because the shrinkage is fitted before it."
        ),
    )
    finetune_days: int | None = Field(
        default=90,
        ge=1,
        description=(
            "A fine-tune trains on the windows whose last target falls in the newest this many days of the "
            "training part (None: all of it); a full retrain always trains on the whole window. 90 keeps the "
            "backtest's accuracy at a third of the cost of a fine-tune over the whole window (docs/backtest.md)."
        ),
    )
    batch_size: int = Field(default=64, ge=1)
    learning_rate: float = Field(default=1e-3, gt=0.0)
    loss: Loss = Field(
        default="mse", description="Training loss on the scaled targets: 'mse', 'huber' (delta 1 sd) or 'l1'."
    )
    precision: Precision = Field(
        default="auto",
        description=(
            "bfloat16: training steps run the BiLSTM under CPU bfloat16 autocast; the GRU, the head, validation "
            "and forecasts stay float32. auto: bfloat16 where the CPU computes it natively (AVX512-BF16 or AMX), "
            "float32 elsewhere. Same accuracy, 1.3-1.8x faster fits here (docs/speed.md)."
        ),
    )
    seed: int = 42
    full_retrain_every_days: int = Field(default=7, ge=1)
    degrade_margin: float = Field(default=0.2, ge=0.0, description="Relative val-loss rise that forces a full retrain.")
    accelerator: str = Field(default="auto", description="Lightning accelerator: 'auto', 'cpu', 'gpu'.")
    progress_bar: bool = Field(default=False, description="Lightning progress bar (the CLI turns it on).")

    @model_validator(mode="after")
    def _val_inside_window(self) -> TrainConfig:
        if self.val_days >= self.window_days:
            raise ValueError(f"val_days ({self.val_days}) must be shorter than window_days ({self.window_days})")
        return self


def required_days(model_cfg: ModelConfig, train_cfg: TrainConfig) -> int:
    """Fewest candles a training window needs: one lost to differencing, one training window, the tail."""
    return 1 + model_cfg.lookback + model_cfg.horizon + train_cfg.val_days
