"""The model's track record: scored forecasts of one lineage, never a target after the day asked."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.results.evaluate import evaluate_matured
from forecaster.results.forecasts import MODEL, forecast_rows, write_forecasts
from forecaster.results.ledger import RECORD_COLUMNS, track_record
from forecaster.series import SeriesKey
from tests.support.candles import random_walk, store_candles

DAY = pd.Timedelta(days=1)
KEY = SeriesKey("binance", "BTC/USDT")


def forecast_set(as_of: pd.Timestamp, close: float) -> pd.DataFrame:
    horizons = np.arange(1, 4)
    return pd.DataFrame(
        {
            "horizon": horizons,
            "target_ts": [as_of + int(h) * DAY for h in horizons],
            "yhat": close,
            "yhat_lower": close * 0.95,
            "yhat_upper": close * 1.05,
        }
    )


def test_track_record_holds_the_models_scored_forecasts_with_targets_up_to_the_day(
    sessions: sessionmaker[Session],
) -> None:
    candles = random_walk(40)
    store_candles(sessions, KEY, candles)
    days = candles["ts"].iloc[10:30]
    with sessions.begin() as session:
        for day, close in zip(days, candles["close"].iloc[10:30], strict=True):
            for model, kind in ((MODEL, "live"), ("naive", "live"), (MODEL, "backtest")):
                rows = forecast_rows(
                    forecast_set(day, close),
                    model=model,
                    key=KEY,
                    as_of=day.to_pydatetime(),
                    run_id=None,
                    run_kind=kind,
                    interval_level=0.8,
                )
                write_forecasts(session, rows)
        evaluate_matured(session, KEY)
    as_of = days.iloc[15].to_pydatetime()
    with sessions() as session:
        record = track_record(session, KEY, "live", MODEL, as_of, days=730)
        recent = track_record(session, KEY, "live", MODEL, as_of, days=5)
    assert list(record.columns) == list(RECORD_COLUMNS)
    assert len(record) == 16 * 3 - 6  # as-of days 0..15, less the targets after as_of: 3 of day 15, 2 of 14, 1 of 13
    assert record["target_ts"].max() == pd.Timestamp(as_of) and record["target_ts"].is_monotonic_increasing
    assert record["actual"].notna().all()
    assert recent["target_ts"].min() > pd.Timestamp(as_of) - 5 * DAY
