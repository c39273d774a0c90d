"""The series: one (exchange, symbol, timeframe) of candles, the key of every table and step."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_

from forecaster.db.models import Candle, Forecast, IngestRun, ModelVersion

# The columns of a candle frame, everywhere: ``ts`` is the tz-aware UTC open time.
CANDLE_COLUMNS = ["ts", "open", "high", "low", "close", "volume"]
PRICES = ["open", "high", "low", "close"]


@dataclass(frozen=True)
class SeriesKey:
    """One stored candle series."""

    exchange: str
    symbol: str
    timeframe: str = "1d"

    def __str__(self) -> str:
        return f"{self.exchange} {self.symbol} {self.timeframe}"


def of_series(entity: type[Candle | IngestRun | ModelVersion | Forecast], key: SeriesKey) -> ColumnElement[bool]:
    """The condition that selects the rows of ``entity`` (candles, forecasts, model versions, ...) of one series."""
    return and_(entity.exchange == key.exchange, entity.symbol == key.symbol, entity.timeframe == key.timeframe)
