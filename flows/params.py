"""Typed flow parameters: Prefect and ``prefect deployment run --param`` validate them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal

import ccxt
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from forecaster.errors import InputError
from forecaster.exchange.open import DEMO
from forecaster.pipeline.config import JobConfig
from forecaster.series import SeriesKey
from forecaster.timeframes import require_daily


class Pair(BaseModel):
    """One series the job forecasts."""

    model_config = ConfigDict(frozen=True)

    exchange: str = Field(description="ccxt exchange id, or demo")
    symbol: str = Field(description="ccxt unified symbol, e.g. BTC/USDT")
    timeframe: str = "1d"

    @field_validator("exchange")
    @classmethod
    def _known_exchange(cls, value: str) -> str:
        if value != DEMO and value not in ccxt.exchanges:
            raise ValueError(f"unknown exchange {value!r}: use a ccxt exchange id or demo")
        return value

    @field_validator("symbol")
    @classmethod
    def _unified_symbol(cls, value: str) -> str:
        if "/" not in value:
            raise ValueError(f"bad symbol {value!r}: use ccxt's unified form BASE/QUOTE, e.g. BTC/USDT")
        return value

    @field_validator("timeframe")
    @classmethod
    def _daily_timeframe(cls, value: str) -> str:
        try:
            require_daily(value)  # the job models daily series only (README, "Timeframes")
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return value

    @property
    def key(self) -> SeriesKey:
        return SeriesKey(self.exchange, self.symbol, self.timeframe)

    def __str__(self) -> str:
        return str(self.key)


def pairs_of(exchange: str, symbols: list[str], timeframe: str = "1d") -> list[Pair]:
    return [Pair(exchange=exchange, symbol=symbol, timeframe=timeframe) for symbol in symbols]


class DailyParams(BaseModel):
    """What one run of the daily job does."""

    model_config = ConfigDict(frozen=True)

    pairs: list[Pair] = Field(
        default_factory=lambda: pairs_of(DEMO, ["BTC/USDT", "ETH/USDT"]), min_length=1, description="Series to run."
    )
    as_of: date | None = Field(default=None, description="Forecast as of this day's candle; default: the newest.")
    train_mode: Literal["full", "finetune", "auto"] = "auto"
    catch_up_days: int = Field(default=7, ge=0, le=366, description="Missed days to fill in, at most.")
    kind: Literal["daily", "manual"] = "daily"
    exchange_concurrency: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description="Parallel ingests per exchange (a Prefect global concurrency limit); "
        "default FORECASTER_EXCHANGE_CONCURRENCY (2); 0: no limit.",
    )
    job: JobConfig = Field(default_factory=JobConfig)

    @model_validator(mode="after")
    def _distinct_pairs(self) -> DailyParams:
        keys = [pair.key for pair in self.pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("the same (exchange, symbol, timeframe) appears twice in pairs")
        return self

    @field_validator("as_of")
    @classmethod
    def _not_in_future(cls, value: date | None) -> date | None:
        if value is not None and value > datetime.now(UTC).date():
            raise ValueError(f"{value} lies in the future (UTC)")
        return value
