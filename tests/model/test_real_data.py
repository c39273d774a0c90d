"""BTC/USDT candles with the missing days of 2026: generated on the real files' calendar, and the real file
itself (an extra, skipped where ``../shared/data`` is absent)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from benchmarks.shared_data import pair_path, read_pair
from forecaster.model import forecast
from forecaster.model.data import CandleDataModule
from forecaster.model.train import seed_everything, train
from tests.support.tiny import TINY_MODEL, TINY_TRAIN

DAY = pd.Timedelta(days=1)
REAL = pair_path("BTCUSDT")


@pytest.fixture(
    params=[
        "generated",
        pytest.param(
            "real",
            marks=pytest.mark.skipif(not REAL.exists(), reason=f"real candles not found at {REAL} (../shared/data)"),
        ),
    ]
)
def candles(request: pytest.FixtureRequest, btc: pd.DataFrame) -> pd.DataFrame:
    """The generated series with the real files' gaps, then the real file where it lies beside the repository."""
    return btc if request.param == "generated" else read_pair(REAL)


def test_training_across_real_gaps_and_forecast_refusal(candles: pd.DataFrame) -> None:
    as_of = pd.Timestamp("2026-03-30", tz="UTC")
    data = CandleDataModule(candles, as_of, TINY_MODEL, TINY_TRAIN)
    data.setup("fit")
    assert data.val_windows is not None
    missing = {pd.Timestamp(d, tz="UTC") for d in ("2026-03-20", "2026-03-21", "2026-03-22", "2026-03-25")}
    for anchor in data.val_windows.anchor_ts:
        start = pd.Timestamp(anchor).tz_localize("UTC") - TINY_MODEL.lookback * DAY
        span = pd.date_range(start, periods=TINY_MODEL.lookback + 1 + TINY_MODEL.horizon, freq="D")
        assert not missing & set(span)
    seed_everything(0)
    model = train(candles, as_of, TINY_MODEL, TINY_TRAIN)
    assert len(forecast(model, candles, as_of - 12 * DAY)) == TINY_MODEL.horizon  # 2026-03-18: before the gap
    bridged = forecast(model, candles, as_of)  # gaps of 3 and 1 days in the input window are bridged
    assert bridged.attrs["bridged"] == ["2026-03-20", "2026-03-21", "2026-03-22", "2026-03-25"]
    strict = replace(model, model_config=model.model_config.model_copy(update={"max_bridged_days": 2}))
    with pytest.raises(ValueError, match=r"gaps of at most 2 days bridged.*4 missing: 2026-03-20, 2026-03-21"):
        forecast(strict, candles, as_of)
