"""Feature frames: ``abs_return``, the volatility input, within a segment like ``log_return``."""

from __future__ import annotations

import numpy as np

from forecaster.model import ModelConfig
from forecaster.model.features import feature_frame, split_contiguous
from tests.support.candles import random_walk


def test_abs_return_is_the_absolute_log_return_within_each_segment() -> None:
    candles = random_walk(40, seed=3)
    candles = candles.drop(index=[15, 16]).reset_index(drop=True)  # a two-day gap: two segments
    cfg = ModelConfig(features=("log_return", "abs_return", "range"))
    segments = split_contiguous(candles)
    assert len(segments) == 2
    for segment in segments:
        frame = feature_frame(segment, cfg)
        closes = segment["close"].to_numpy()
        expected = np.abs(np.log(closes[1:] / closes[:-1]))  # only days inside the segment: none spans the gap
        np.testing.assert_allclose(frame["abs_return"].to_numpy(), expected)
        np.testing.assert_allclose(frame["abs_return"], frame["log_return"].abs())
        assert (frame["abs_return"] >= 0).all() and frame[list(cfg.features)].notna().all().all()
        assert len(frame) == len(segment) - 1
