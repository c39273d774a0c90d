"""Training windows: cut, split by time, scale on the training part, window within gap-free segments.

Order of operations in ``CandleDataModule.setup`` (nothing happens in ``__init__``):

1. keep candles with ``as_of - window_days < ts <= as_of``;
2. split by time: the last ``val_days`` calendar days are the validation tail, the rest the
   training part (``ts <= train_end``);
3. split into contiguous segments at missing days and compute features per segment;
4. fit the scaler on training-part rows only (unless a parent's scaler is given);
5. cut windows (``lookback`` rows in, the next ``horizon`` targets out) inside each segment,
   so no window ever spans a missing day. A window is a training window when all its targets
   are in the training part, a validation window when its first target is in the validation
   tail; windows straddling the boundary are dropped, so no target is both trained on and
   validated on. With ``train_days`` (a fine-tune), only the training windows whose last target
   falls in the newest ``train_days`` days of the training part are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch.utils.data import DataLoader, TensorDataset

from forecaster.model.config import ModelConfig, TrainConfig, required_days
from forecaster.model.features import (
    ONE_DAY,
    check_as_of,
    check_candles,
    feature_frame,
    split_contiguous,
    utc64,
    utc64_scalar,
)
from forecaster.model.scaling import Scaler


@dataclass(frozen=True)
class Windows:
    """Model-ready windows plus what is needed to turn predictions back into prices."""

    x: torch.Tensor  # (N, L, F) scaled features
    y: torch.Tensor  # (N, K) scaled targets
    anchor_close: np.ndarray  # (N,) last close the window sees
    future_close: np.ndarray  # (N, K) actual closes 1..K days later
    anchor_ts: np.ndarray  # (N,) open time (naive UTC datetime64) of the last candle the window sees

    def __len__(self) -> int:
        return len(self.x)


def cut_window(candles: pd.DataFrame, as_of: pd.Timestamp, window_days: int) -> pd.DataFrame:
    """The candles of the ``window_days`` calendar days ending at ``as_of`` (inclusive)."""
    check_candles(candles)
    as_of = check_as_of(as_of)
    start = as_of - (window_days - 1) * ONE_DAY
    keep = (candles["ts"] >= start) & (candles["ts"] <= as_of)
    return candles.loc[keep].reset_index(drop=True)


def segment_frames(window: pd.DataFrame, model_cfg: ModelConfig) -> list[pd.DataFrame]:
    """Feature frames of the window's contiguous segments (empty segments left out)."""
    frames = [feature_frame(segment, model_cfg) for segment in split_contiguous(window)]
    return [frame for frame in frames if not frame.empty]


def fit_scaler(frames: list[pd.DataFrame], model_cfg: ModelConfig, train_end: pd.Timestamp) -> Scaler:
    """Fit the scaler on feature and target columns of rows up to ``train_end`` only."""
    columns = [*model_cfg.features, "target"]
    rows = [frame.loc[frame["ts"] <= train_end, columns].to_numpy() for frame in frames]
    return Scaler.fit(np.concatenate(rows), model_cfg.scaling)


def make_windows(frame: pd.DataFrame, scaler: Scaler, model_cfg: ModelConfig) -> tuple[Windows, np.ndarray] | None:
    """All windows of one contiguous feature frame, and the open times of their last input rows."""
    lookback, horizon = model_cfg.lookback, model_cfg.horizon
    n_windows = len(frame) - lookback - horizon + 1
    if n_windows <= 0:
        return None
    scaled = scaler.transform(frame[[*model_cfg.features, "target"]].to_numpy())
    features, target = scaled[:, :-1], scaled[:, -1]
    close = frame["close"].to_numpy(dtype=float)
    # sliding_window_view puts the window axis last: (n, F, L) -> (n, L, F)
    x = sliding_window_view(features, lookback, axis=0)[:n_windows].transpose(0, 2, 1)
    y = sliding_window_view(target[lookback:], horizon)[:n_windows]
    future = sliding_window_view(close[lookback:], horizon)[:n_windows]
    anchor = np.arange(lookback - 1, lookback - 1 + n_windows)
    ts = utc64(frame["ts"])
    windows = Windows(
        x=torch.tensor(np.ascontiguousarray(x), dtype=torch.float32),
        y=torch.tensor(np.ascontiguousarray(y), dtype=torch.float32),
        anchor_close=close[anchor],
        future_close=np.ascontiguousarray(future),
        anchor_ts=ts[anchor],
    )
    return windows, ts[anchor]


def select(windows: list[Windows], masks: list[np.ndarray]) -> Windows:
    """Concatenate the masked parts of several ``Windows``."""
    return Windows(
        x=torch.cat([w.x[torch.from_numpy(m)] for w, m in zip(windows, masks, strict=True)]),
        y=torch.cat([w.y[torch.from_numpy(m)] for w, m in zip(windows, masks, strict=True)]),
        anchor_close=np.concatenate([w.anchor_close[m] for w, m in zip(windows, masks, strict=True)]),
        future_close=np.concatenate([w.future_close[m] for w, m in zip(windows, masks, strict=True)]),
        anchor_ts=np.concatenate([w.anchor_ts[m] for w, m in zip(windows, masks, strict=True)]),
    )


class CandleDataModule(pl.LightningDataModule):
    """Training and validation windows of the window ending at ``as_of``.

    ``scaler`` given (fine-tuning, policy checks): it is used as is and never refitted.
    ``train_days`` given (fine-tuning): the training windows are those whose last target falls in
    the newest ``train_days`` days of the training part; the validation windows are unchanged.
    """

    def __init__(
        self,
        candles: pd.DataFrame,
        as_of: pd.Timestamp,
        model_cfg: ModelConfig,
        train_cfg: TrainConfig,
        scaler: Scaler | None = None,
        train_days: int | None = None,
    ) -> None:
        super().__init__()
        self.candles = candles
        self.as_of = check_as_of(as_of)
        self.model_cfg = model_cfg
        self.train_cfg = train_cfg
        self.scaler = scaler
        self.train_days = train_days
        self.train_windows: Windows | None = None
        self.val_windows: Windows | None = None
        self.window_start: pd.Timestamp | None = None

    @property
    def train_end(self) -> pd.Timestamp:
        return self.as_of - self.train_cfg.val_days * ONE_DAY

    def setup(self, stage: str | None = None) -> None:
        if self.train_windows is not None:
            return
        model_cfg, train_cfg = self.model_cfg, self.train_cfg
        needed = required_days(model_cfg, train_cfg)
        if train_cfg.val_days < model_cfg.horizon:
            raise ValueError(f"val_days ({train_cfg.val_days}) must be at least the horizon ({model_cfg.horizon})")
        window = cut_window(self.candles, self.as_of, train_cfg.window_days)
        if len(window) < needed:
            raise ValueError(
                f"window of {len(window)} days (window_days={train_cfg.window_days} ending {self.as_of.date()}) "
                f"is shorter than the model needs: 1 + lookback {model_cfg.lookback} + horizon "
                f"{model_cfg.horizon} + val_days {train_cfg.val_days} = {needed} days"
            )
        self.window_start = window["ts"].iloc[0]
        frames = segment_frames(window, model_cfg)
        if self.scaler is None:
            self.scaler = fit_scaler(frames, model_cfg, self.train_end)
        built = [w for w in (make_windows(frame, self.scaler, model_cfg) for frame in frames) if w is not None]
        if not built:
            raise ValueError("no complete window: every gap-free segment is shorter than lookback + horizon + 1")
        parts = [b[0] for b in built]
        horizon_span = model_cfg.horizon * ONE_DAY
        train_end = utc64_scalar(self.train_end)
        last_target = [b[1] + horizon_span.to_timedelta64() for b in built]
        train_masks = [ends <= train_end for ends in last_target]
        if self.train_days is not None:
            newest = train_end - np.timedelta64(self.train_days, "D")
            train_masks = [mask & (ends > newest) for mask, ends in zip(train_masks, last_target, strict=True)]
        val_masks = [b[1] >= train_end for b in built]
        self.train_windows, self.val_windows = select(parts, train_masks), select(parts, val_masks)
        for name, part in (("training", self.train_windows), ("validation", self.val_windows)):
            if len(part) == 0:
                raise ValueError(f"no {name} window: gaps leave no gap-free run of lookback + horizon days there")

    def train_dataloader(self) -> DataLoader:
        assert self.train_windows is not None, "call setup() first"
        dataset = TensorDataset(self.train_windows.x, self.train_windows.y)
        return DataLoader(dataset, batch_size=self.train_cfg.batch_size, shuffle=True)

    def tail_dataloader(self) -> DataLoader:
        """The validation windows, shuffled in training batches: the tail the served weights train through."""
        assert self.val_windows is not None, "call setup() first"
        dataset = TensorDataset(self.val_windows.x, self.val_windows.y)
        return DataLoader(dataset, batch_size=self.train_cfg.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        assert self.val_windows is not None, "call setup() first"
        dataset = TensorDataset(self.val_windows.x, self.val_windows.y)
        return DataLoader(dataset, batch_size=max(self.train_cfg.batch_size, 256), shuffle=False)
