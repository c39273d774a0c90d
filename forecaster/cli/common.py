"""Options and plumbing shared by the commands."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import Settings
from forecaster.db.engine import make_engine, ping, session_factory
from forecaster.db.migrate import ensure_schema
from forecaster.exchange.names import check_exchange_id, check_symbol
from forecaster.series import SeriesKey
from forecaster.timeframes import require_daily

DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", envvar="FORECASTER_DATABASE_URL", help="SQLAlchemy URL (default: SQLite file)."),
]
ExchangeOption = Annotated[
    str,
    typer.Option("--exchange", "-e", help="ccxt exchange id (binance, coinbase, kraken, okx...) or demo."),
]
ApiUrlOption = Annotated[
    str | None,
    typer.Option("--api-url", envvar="FORECASTER_EXCHANGE_API_URL", help="Replace the exchange's API host."),
]
TimeframeOption = Annotated[str, typer.Option("--timeframe", "-t", help="Candle timeframe.")]


def settings(database_url: str | None = None, **overrides: object) -> Settings:
    """Settings from the environment, with the command's options on top."""
    values = {key: value for key, value in overrides.items() if value is not None}
    if database_url:
        values["database_url"] = database_url
    return Settings(**values)  # type: ignore[arg-type]


def open_database(config: Settings) -> sessionmaker[Session]:
    """Connect (one clear error when unreachable) and check the schema (created when empty)."""
    engine = make_engine(config.database_url.get_secret_value())
    ping(engine)
    ensure_schema(engine)
    return session_factory(engine)


def modelled_series(exchange: str, symbol: str, timeframe: str) -> SeriesKey:
    """The series of a command that models it (train, forecast, evaluate, report, backtest): its exchange id
    and symbol checked offline and its timeframe daily, before the database is opened, so that bad input
    is one clear error and writes nothing."""
    check_exchange_id(exchange)
    check_symbol(symbol)
    require_daily(timeframe)
    return SeriesKey(exchange, symbol, timeframe)


def split_symbols(text: str) -> list[str]:
    symbols = [part.strip() for part in text.split(",") if part.strip()]
    if not symbols:
        raise typer.BadParameter("give at least one symbol, e.g. BTC/USDT,ETH/USDT", param_hint="--symbols")
    return list(dict.fromkeys(symbols))


def validation_message(exc: ValidationError) -> str:
    """A pydantic error as one line: ``train.window_days: window_days=100 is shorter than ...``."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
