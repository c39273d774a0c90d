from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.model import ModelConfig
from forecaster.model.config import required_days
from forecaster.model.data import CandleDataModule, Windows
from forecaster.model.features import split_contiguous
from forecaster.model.scaling import Scaler
from tests.support.candles import random_walk
from tests.support.tiny import TINY_MODEL, TINY_TRAIN

CLOSE_MODEL = ModelConfig(lookback=10, horizon=3, features=("close",), target="close")


def with_gaps(candles: pd.DataFrame, days: list[int]) -> pd.DataFrame:
    return candles.drop(index=days).reset_index(drop=True)


def test_split_contiguous_cuts_at_every_gap() -> None:
    candles = with_gaps(random_walk(50), [10, 11, 30])
    segments = split_contiguous(candles)
    assert [len(s) for s in segments] == [10, 18, 19]
    for segment in segments:
        assert (segment["ts"].diff().dropna() == pd.Timedelta(days=1)).all()


def check_contiguous(windows: Windows, scaler: Scaler, candles: pd.DataFrame, cfg: ModelConfig) -> None:
    close = candles.set_index("ts")["close"]
    day = pd.Timedelta(days=1)
    for x, anchor_ts, future in zip(windows.x.numpy(), windows.anchor_ts, windows.future_close, strict=True):
        anchor = pd.Timestamp(anchor_ts).tz_localize("UTC")
        inputs = [anchor - k * day for k in range(cfg.lookback - 1, -1, -1)]
        targets = [anchor + h * day for h in range(1, cfg.horizon + 1)]
        # the day before the first input feeds its day-over-day features
        assert all(ts in close.index for ts in [inputs[0] - day, *inputs, *targets])
        unscaled = x[:, 0] * scaler.scale[0] + scaler.offset[0]
        np.testing.assert_allclose(unscaled, close[inputs].to_numpy(), rtol=1e-5)
        np.testing.assert_allclose(future, close[targets].to_numpy())


def test_windows_never_span_a_gap() -> None:
    candles = with_gaps(random_walk(260), [40, 120, 121, 200, 235])
    as_of = candles["ts"].iloc[-1]
    data = CandleDataModule(candles, as_of, CLOSE_MODEL, TINY_TRAIN)
    data.setup("fit")
    assert data.scaler is not None and data.train_windows is not None and data.val_windows is not None
    assert len(data.train_windows) > 0 and len(data.val_windows) > 0
    check_contiguous(data.train_windows, data.scaler, candles, CLOSE_MODEL)
    check_contiguous(data.val_windows, data.scaler, candles, CLOSE_MODEL)


def test_split_by_time_and_scaler_on_training_part_only() -> None:
    candles = random_walk(260)
    as_of = candles["ts"].iloc[-1]
    data = CandleDataModule(candles, as_of, CLOSE_MODEL, TINY_TRAIN)
    data.setup("fit")
    assert data.train_windows is not None and data.val_windows is not None and data.scaler is not None
    train_end = (as_of - pd.Timedelta(days=TINY_TRAIN.val_days)).tz_localize(None).to_datetime64()
    horizon = np.timedelta64(CLOSE_MODEL.horizon, "D")
    assert (data.train_windows.anchor_ts + horizon <= train_end).all()
    assert (data.val_windows.anchor_ts >= train_end).all()
    window = candles[candles["ts"] > as_of - pd.Timedelta(days=TINY_TRAIN.window_days)]
    part = window.loc[window["ts"] <= as_of - pd.Timedelta(days=TINY_TRAIN.val_days), "close"].iloc[1:]
    assert data.scaler.offset[0] == pytest.approx(part.mean())
    assert data.scaler.scale[0] == pytest.approx(part.std(ddof=0))


def test_too_short_window_is_a_clear_error() -> None:
    days = required_days(TINY_MODEL, TINY_TRAIN) - 1  # one day short
    candles = random_walk(days)
    data = CandleDataModule(candles, candles["ts"].iloc[-1], TINY_MODEL, TINY_TRAIN)
    with pytest.raises(ValueError, match=rf"window of {days} days .* is shorter than the model needs"):
        data.setup("fit")


def test_gaps_leaving_no_validation_window_are_a_clear_error() -> None:
    candles = random_walk(260)
    gaps = list(range(len(candles) - 30, len(candles), 5))
    data = CandleDataModule(with_gaps(candles, gaps), candles["ts"].iloc[-1], TINY_MODEL, TINY_TRAIN)
    with pytest.raises(ValueError, match="no validation window"):
        data.setup("fit")


def test_scaler_round_trip() -> None:
    values = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 3))
    for kind in ("standard", "minmax"):
        scaler = Scaler.fit(values, kind)
        np.testing.assert_allclose(scaler.inverse(scaler.transform(values)), values)
        assert Scaler.from_state(scaler.state()) == scaler
    minmax = Scaler.fit(values, "minmax").transform(values)
    assert minmax.min() == pytest.approx(0.0) and minmax.max() == pytest.approx(1.0)


def test_train_days_keeps_only_the_newest_training_windows() -> None:
    candles = with_gaps(random_walk(260), [215])
    as_of = candles["ts"].iloc[-1]
    whole = CandleDataModule(candles, as_of, CLOSE_MODEL, TINY_TRAIN)
    recent = CandleDataModule(candles, as_of, CLOSE_MODEL, TINY_TRAIN, scaler=None, train_days=40)
    whole.setup("fit")
    recent.setup("fit")
    assert whole.train_windows is not None and recent.train_windows is not None
    assert whole.val_windows is not None and recent.val_windows is not None
    train_end = (as_of - pd.Timedelta(days=TINY_TRAIN.val_days)).tz_localize(None).to_datetime64()
    last_target = recent.train_windows.anchor_ts + np.timedelta64(CLOSE_MODEL.horizon, "D")
    assert (last_target <= train_end).all() and (last_target > train_end - np.timedelta64(40, "D")).all()
    # exactly the whole module's windows of those days, minus the ones the missing day breaks
    kept = whole.train_windows.anchor_ts[
        whole.train_windows.anchor_ts + np.timedelta64(CLOSE_MODEL.horizon, "D") > train_end - np.timedelta64(40, "D")
    ]
    np.testing.assert_array_equal(recent.train_windows.anchor_ts, kept)
    assert 0 < len(kept) < 40
    np.testing.assert_array_equal(recent.val_windows.anchor_ts, whole.val_windows.anchor_ts)
