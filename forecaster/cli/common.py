"""Options and plumbing shared by the commands.

The command tree imports this module before it reads the arguments, so it stays light: typer and
the standard library only. What a command needs (settings, database, pydantic, YAML) is imported
inside the function that uses it, so that ``--help`` and a bad option answer without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from forecaster.errors import InputError

if TYPE_CHECKING:
    from pydantic import ValidationError
    from sqlalchemy.orm import Session, sessionmaker

    from forecaster.config import Settings
    from forecaster.pipeline.config import JobConfig
    from forecaster.series import SeriesKey

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
JobOption = Annotated[
    Path | None,
    typer.Option(
        "--job",
        envvar="FORECASTER_JOB_FILE",
        help="Model, training and gate settings: a JSON or YAML file of JobConfig, the deployment's `job` "
        "parameter (default: the built-in defaults).",
    ),
]


def settings(database_url: str | None = None, **overrides: object) -> Settings:
    """Settings from the environment, with the command's options on top."""
    from forecaster.config import Settings

    values = {key: value for key, value in overrides.items() if value is not None}
    if database_url:
        values["database_url"] = database_url
    return Settings(**values)  # type: ignore[arg-type]


def job_config(path: Path | None, **train: object) -> JobConfig:
    """The job settings of ``--job`` (the defaults without one), ``train`` overriding training fields."""
    import yaml

    from forecaster.pipeline.config import JobConfig

    values: dict[str, Any] = {}
    if path is not None:
        try:
            text = path.read_text()
        except OSError as exc:
            raise InputError(f"--job {path}: cannot read it ({exc.strerror})") from None
        try:
            loaded = yaml.safe_load(text)  # YAML is a superset of JSON
        except yaml.YAMLError as exc:
            raise InputError(f"--job {path}: not JSON or YAML ({exc})") from None
        if not isinstance(loaded, dict):
            raise InputError(f"--job {path}: expected a mapping of JobConfig fields (model, train, gate)")
        values = loaded
    if train:
        values = {**values, "train": {**values.get("train", {}), **train}}
    return JobConfig.model_validate(values)


def check_database(config: Settings) -> None:
    """Fail with one clear line when the database is unreachable or outdated (an empty one is created)."""
    from forecaster.db.engine import make_engine, ping
    from forecaster.db.migrate import ensure_schema

    engine = make_engine(config.database_url.get_secret_value())
    try:
        ping(engine)
        ensure_schema(engine)
    finally:
        engine.dispose()


def open_database(config: Settings) -> sessionmaker[Session]:
    """Connect (one clear error when unreachable) and check the schema (created when empty)."""
    from forecaster.db.engine import make_engine, ping, session_factory
    from forecaster.db.migrate import ensure_schema

    engine = make_engine(config.database_url.get_secret_value())
    ping(engine)
    ensure_schema(engine)
    return session_factory(engine)


def modelled_series(exchange: str, symbol: str, timeframe: str) -> SeriesKey:
    """The series of a command that models it (train, forecast, evaluate, report, backtest): its exchange id
    and symbol checked offline and its timeframe daily, before the database is opened, so that bad input
    is one clear error and writes nothing."""
    from forecaster.exchange.names import check_exchange_id, check_symbol
    from forecaster.series import SeriesKey
    from forecaster.timeframes import require_daily

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
    loc = first["loc"]
    if len(loc) == 1 and isinstance(loc[0], int):
        loc = ()  # a positional argument, e.g. of SeriesKey(exchange, symbol): the message names it
    where = ".".join(str(part) for part in loc)
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def use_torch_threads(config: Settings) -> None:
    """Apply ``FORECASTER_TORCH_THREADS`` as a command that trains or forecasts starts (loading torch)."""
    from forecaster.runtime import set_torch_threads

    set_torch_threads(config.torch_threads)
