"""CSV import through the library: times in any offset land on UTC days."""

from __future__ import annotations

import pandas as pd

from forecaster.ingest.csv_import import import_csv
from forecaster.ingest.store import load_candles
from forecaster.series import SeriesKey

KEY = SeriesKey("binance", "BTC/USDT", "1d")


MIXED = (
    "timestamp,open,high,low,close,volume\n"
    "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
    "2024-01-02T02:00:00+02:00,1.5,2,1,1.2,5\n"  # 2024-01-02 00:00 UTC
    "2024-01-02T19:00:00-05:00,1.2,1.4,1,1.3,7\n"  # 2024-01-03 00:00 UTC
    "2024-01-04,1.3,1.5,1.1,1.4,8\n"  # naive: UTC
)


def test_csv_mixing_offsets_lands_on_utc_days(sessions, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(MIXED)
    summary = import_csv(sessions, path, KEY)
    assert summary.new == 4
    with sessions() as session:
        stored = load_candles(session, KEY)
    assert list(stored["ts"]) == list(pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC"))
    assert list(stored["close"]) == [1.5, 1.2, 1.3, 1.4]
