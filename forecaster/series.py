"""The series: one (exchange, symbol, timeframe) of candles, the key of every table and step."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import field_validator
from pydantic.dataclasses import dataclass
from sqlalchemy import ColumnElement, and_

from forecaster.db.models import Candle, Forecast, IngestRun, ModelVersion

# The columns of a candle frame, everywhere: ``ts`` is the tz-aware UTC open time.
CANDLE_COLUMNS = ["ts", "open", "high", "low", "close", "volume"]
PRICES = ["open", "high", "low", "close"]
# The offline demo exchange: synthetic candles behind the loopback server (``forecaster.exchange.open``).
DEMO = "demo"

T = TypeVar("T")


@dataclass(frozen=True)
class SeriesKey:
    """One candle series: what the job ingests, trains on and forecasts, and the key of every table.

    Validated on construction (also as a Prefect flow parameter): a ccxt exchange id or ``demo``,
    a symbol in ccxt's unified form BASE/QUOTE, a timeframe of fixed length.
    """

    exchange: str
    symbol: str
    timeframe: str = "1d"

    @field_validator("exchange")
    @classmethod
    def _known_exchange(cls, value: str) -> str:
        from forecaster.exchange.names import check_exchange_id  # ccxt: a heavy import, once a series is named

        return _as_value_error(check_exchange_id, value)

    @field_validator("symbol")
    @classmethod
    def _unified_symbol(cls, value: str) -> str:
        from forecaster.exchange.names import check_symbol

        return _as_value_error(check_symbol, value)

    @field_validator("timeframe")
    @classmethod
    def _fixed_timeframe(cls, value: str) -> str:
        from forecaster.timeframes import timeframe_ms

        _as_value_error(timeframe_ms, value)
        return value

    def __str__(self) -> str:
        return f"{self.exchange} {self.symbol} {self.timeframe}"


def _as_value_error(check: Callable[[str], T], value: str) -> T:
    """``check(value)``, its one-line ``InputError`` raised as the ``ValueError`` pydantic reports."""
    from forecaster.errors import InputError

    try:
        return check(value)
    except InputError as exc:
        raise ValueError(str(exc)) from None


def of_series(entity: type[Candle | IngestRun | ModelVersion | Forecast], key: SeriesKey) -> ColumnElement[bool]:
    """The condition that selects the rows of ``entity`` (candles, forecasts, model versions, ...) of one series."""
    return and_(entity.exchange == key.exchange, entity.symbol == key.symbol, entity.timeframe == key.timeframe)
