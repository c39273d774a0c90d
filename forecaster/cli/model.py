"""``forecaster train``, ``forecaster forecast`` and ``forecaster evaluate``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, cast

import typer

from forecaster.cli.common import (
    DatabaseOption,
    ExchangeOption,
    JobOption,
    TimeframeOption,
    job_config,
    modelled_series,
    open_database,
    settings,
    use_torch_threads,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from forecaster.pipeline.config import TrainMode
    from forecaster.series import SeriesKey

SymbolOption = Annotated[str, typer.Option("--symbol", "-s", help="ccxt unified symbol, e.g. BTC/USDT.")]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="Use candles up to this day (YYYY-MM-DD); default: the newest stored.")
]


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
    app.command("forecast")(forecast_command)
    app.command("evaluate")(evaluate_command)


def train_command(
    exchange: ExchangeOption,
    symbol: SymbolOption,
    mode: Annotated[str, typer.Option(help="full, finetune, or auto (weekly full, fine-tune otherwise).")] = "auto",
    as_of: AsOfOption = None,
    timeframe: TimeframeOption = "1d",
    job_file: JobOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Train (or fine-tune) the BiLSTM-GRU on the rolling window ending at the as-of candle."""
    if mode not in ("full", "finetune", "auto"):
        raise typer.BadParameter("use full, finetune or auto", param_hint="--mode")
    key = modelled_series(exchange, symbol, timeframe)
    asked = _parse_as_of(as_of)
    job = job_config(job_file, progress_bar=True)  # every option read before the database is opened
    from forecaster.pipeline.train import train_step  # after the options: a bad one fails before torch loads

    config = settings(database_url)
    use_torch_threads(config)
    sessions = open_database(config)
    day = _as_of(sessions, key, asked)
    outcome = train_step(sessions, key, day, _mode(mode), job, config.checkpoint_dir)
    typer.echo(outcome.line(key))


def forecast_command(
    exchange: ExchangeOption,
    symbol: SymbolOption,
    as_of: AsOfOption = None,
    timeframe: TimeframeOption = "1d",
    job_file: JobOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Write the forecasts of the model and the baselines as of a day."""
    key = modelled_series(exchange, symbol, timeframe)
    asked = _parse_as_of(as_of)
    job = job_config(job_file)  # every option read before the database is opened
    from forecaster.pipeline.forecast import forecast_step  # after the options: a bad one fails before torch loads

    config = settings(database_url)
    use_torch_threads(config)
    sessions = open_database(config)
    day = _as_of(sessions, key, asked)
    outcome = forecast_step(sessions, key, day, job, checkpoint_dir=config.checkpoint_dir)
    typer.echo(outcome.line(key, day))


def evaluate_command(
    exchange: Annotated[str | None, typer.Option("--exchange", "-e")] = None,
    symbol: Annotated[str | None, typer.Option("--symbol", "-s")] = None,
    timeframe: TimeframeOption = "1d",
    database_url: DatabaseOption = None,
) -> None:
    """Score every forecast whose target candle has arrived and is not scored yet."""
    from forecaster.pipeline.evaluate import evaluate_step
    from forecaster.timeframes import require_daily

    if (exchange is None) != (symbol is None):
        raise typer.BadParameter("give both --exchange and --symbol, or neither (all series)")
    require_daily(timeframe)
    key = modelled_series(exchange, symbol, timeframe) if exchange and symbol else None
    sessions = open_database(settings(database_url))
    typer.echo(f"scored {evaluate_step(sessions, key)} forecasts")


def _parse_as_of(text: str | None) -> datetime | None:
    """``--as-of``, read before the database is opened: a bad date writes nothing."""
    from forecaster.dates import parse_date

    return parse_date(text, option="--as-of") if text is not None else None


def _as_of(sessions: sessionmaker[Session], key: SeriesKey, asked: datetime | None) -> datetime:
    from forecaster.ingest.store import stored_range

    if asked is not None:
        return asked
    with sessions() as session:
        newest = stored_range(session, key).last
    if newest is None:
        raise typer.BadParameter(f"no candles of {key}: run forecaster ingest first", param_hint="--symbol")
    return newest


def _mode(text: str) -> TrainMode:
    return cast("TrainMode", text)
