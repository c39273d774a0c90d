"""The real daily candles in ``../shared/data/`` (Binance, one ``<PAIR>.csv`` per pair): the one place that reads them.

The benchmarks, and the few tests that need real candles (``tests/model/test_real_data.py``), read them here,
through the library's own CSV reader.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.ingest.csv_import import import_csv, read_candle_csv
from forecaster.series import SeriesKey

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def unified_symbol(name: str) -> str:
    """A file's pair name in ccxt's unified form: ``BTCUSDT`` -> ``BTC/USDT``."""
    return f"{name[:-4]}/{name[-4:]}"


def pair_path(name: str) -> Path:
    """``DATA/<name>.csv``."""
    return DATA / f"{name}.csv"


def read_pair(name: str | Path) -> pd.DataFrame:
    """A pair's file (``BTCUSDT``, or a CSV's path) as a candle frame: ``ts`` (aware UTC), open .. volume."""
    frame = read_candle_csv(Path(name) if isinstance(name, Path) else pair_path(name))
    frame["ts"] = pd.to_datetime(frame["ts"], unit="ms", utc=True)
    return frame


def import_pair(sessions: sessionmaker[Session], name: str) -> SeriesKey:
    """Import ``DATA/<name>.csv`` as the daily series of ``binance``; returns its key."""
    key = SeriesKey("binance", unified_symbol(name), "1d")
    import_csv(sessions, pair_path(name), key)
    return key
