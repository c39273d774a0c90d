"""Typed flow parameters: Prefect and ``prefect deployment run --param`` validate them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from forecaster.pipeline.config import JobConfig
from forecaster.series import DEMO, SeriesKey


def pairs_of(exchange: str, symbols: list[str], timeframe: str = "1d") -> list[SeriesKey]:
    return [SeriesKey(exchange, symbol, timeframe) for symbol in symbols]


class DailyParams(BaseModel):
    """What one run of the daily job does."""

    model_config = ConfigDict(frozen=True)

    pairs: list[SeriesKey] = Field(
        default_factory=lambda: pairs_of(DEMO, ["BTC/USDT", "ETH/USDT"]), min_length=1, description="Series to run."
    )
    as_of: date | None = Field(default=None, description="Forecast as of this day's candle; default: the newest.")
    train_mode: Literal["full", "finetune", "auto"] = "auto"
    catch_up_days: int = Field(default=7, ge=0, le=366, description="Missed days to fill in, at most.")
    trigger: Literal["scheduled", "manual", "cli"] | None = Field(
        default=None,
        description="Who started the run (runs.trigger); default: from Prefect, scheduled for a run its "
        "deployment's schedule made, manual otherwise. `forecaster run` passes cli.",
    )
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
        if len(set(self.pairs)) != len(self.pairs):
            raise ValueError("the same (exchange, symbol, timeframe) appears twice in pairs")
        return self

    @field_validator("as_of")
    @classmethod
    def _not_in_future(cls, value: date | None) -> date | None:
        if value is not None and value > datetime.now(UTC).date():
            raise ValueError(f"{value} lies in the future (UTC)")
        return value
