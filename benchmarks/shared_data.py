"""The real daily candles in ``../shared/data/`` (Binance, one ``<PAIR>.csv`` per pair), as the benchmarks use them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from forecaster.ingest.csv_import import import_csv
from forecaster.series import SeriesKey

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def unified_symbol(name: str) -> str:
    """A file's pair name in ccxt's unified form: ``BTCUSDT`` -> ``BTC/USDT``."""
    return f"{name[:-4]}/{name[-4:]}"


def import_pair(sessions: sessionmaker[Session], name: str) -> SeriesKey:
    """Import ``DATA/<name>.csv`` as the daily series of ``binance``; returns its key."""
    key = SeriesKey("binance", unified_symbol(name), "1d")
    import_csv(sessions, DATA / f"{name}.csv", key)
    return key
