"""The series: one (exchange, symbol, timeframe) of candles, the key of every table and step."""

from __future__ import annotations

from pydantic import field_validator
from pydantic.dataclasses import dataclass
from sqlalchemy import ColumnElement, and_

from forecaster.db.models import Candle, Forecast, IngestRun, ModelVersion

# The columns of a candle frame, everywhere: ``ts`` is the tz-aware UTC open time.
CANDLE_COLUMNS = ["ts", "open", "high", "low", "close", "volume"]
PRICES = ["open", "high", "low", "close"]
# The offline demo exchange: synthetic candles behind the loopback server (``forecaster.exchange.open``).
DEMO = "demo"


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
        import ccxt  # a heavy import, needed only once a series is named

        if value != DEMO and value not in ccxt.exchanges:
            raise ValueError(f"unknown exchange {value!r}: use a ccxt exchange id or {DEMO}")
        return value

    @field_validator("symbol")
    @classmethod
    def _unified_symbol(cls, value: str) -> str:
        base, _, quote = value.partition("/")
        if not base or not quote:
            raise ValueError(f"bad symbol {value!r}: use ccxt's unified form BASE/QUOTE, e.g. BTC/USDT")
        return value

    @field_validator("timeframe")
    @classmethod
    def _fixed_timeframe(cls, value: str) -> str:
        from forecaster.errors import InputError
        from forecaster.timeframes import timeframe_ms

        try:
            timeframe_ms(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return value

    def __str__(self) -> str:
        return f"{self.exchange} {self.symbol} {self.timeframe}"


def of_series(entity: type[Candle | IngestRun | ModelVersion | Forecast], key: SeriesKey) -> ColumnElement[bool]:
    """The condition that selects the rows of ``entity`` (candles, forecasts, model versions, ...) of one series."""
    return and_(entity.exchange == key.exchange, entity.symbol == key.symbol, entity.timeframe == key.timeframe)
