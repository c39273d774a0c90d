"""``forecaster ingest`` and ``forecaster import-csv``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from forecaster.cli.common import (
    ApiUrlOption,
    DatabaseOption,
    ExchangeOption,
    TimeframeOption,
    open_database,
    settings,
    split_symbols,
)
from forecaster.errors import ForecasterError

if TYPE_CHECKING:
    from forecaster.ingest.fetch import PageProgress


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_command)
    app.command("import-csv")(import_csv_command)


def ingest_command(
    exchange: ExchangeOption,
    symbols: Annotated[str, typer.Option("--symbols", "-s", help="Comma-separated, e.g. BTC/USDT,ETH/USDT.")],
    timeframe: TimeframeOption = "1d",
    since: Annotated[str | None, typer.Option(help="Backfill from this date (YYYY-MM-DD).")] = None,
    api_url: ApiUrlOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Fetch new closed candles (or backfill from --since) into the database."""
    from forecaster.dates import parse_date
    from forecaster.exchange.client import check_market
    from forecaster.exchange.open import open_exchange
    from forecaster.ingest.service import ingest_from_exchange
    from forecaster.series import SeriesKey
    from forecaster.timeframes import timeframe_ms

    names = split_symbols(symbols)
    start = parse_date(since, option="--since") if since else None
    timeframe_ms(timeframe)
    config = settings(database_url, exchange_api_url=api_url)
    sessions = open_database(config)
    policy = config.retry_policy
    failures = 0
    with open_exchange(exchange, config.exchange_api_url, config.exchange) as client:
        for symbol in names:  # every symbol is checked before anything is written
            check_market(client, symbol, timeframe, policy)
        for symbol in names:
            key = SeriesKey(exchange, symbol, timeframe)
            try:
                summary = ingest_from_exchange(
                    client, sessions, key, since=start, policy=policy, on_page=_progress(symbol)
                )
            except ForecasterError as exc:
                failures += 1
                typer.echo(f"error: {key}: {exc}", err=True)
                continue
            typer.echo(summary.line())
    if failures:
        raise typer.Exit(1)


def import_csv_command(
    file: Annotated[Path, typer.Argument(help="CSV with timestamp (or date), open, high, low, close, volume.")],
    exchange: ExchangeOption,
    symbol: Annotated[str, typer.Option("--symbol", help="ccxt unified symbol, e.g. BTC/USDT.")],
    timeframe: TimeframeOption = "1d",
    database_url: DatabaseOption = None,
) -> None:
    """Import exported candle history from a CSV file (all rows or nothing)."""
    from forecaster.exchange.names import check_exchange_id, check_symbol
    from forecaster.ingest.csv_import import import_csv
    from forecaster.series import SeriesKey
    from forecaster.timeframes import timeframe_ms

    check_exchange_id(exchange)  # before the database is opened: a misspelled name writes nothing
    check_symbol(symbol)
    timeframe_ms(timeframe)
    sessions = open_database(settings(database_url))
    typer.echo(import_csv(sessions, file, SeriesKey(exchange, symbol, timeframe)).line())


def _progress(symbol: str) -> Callable[[PageProgress], None]:
    """Progress lines on stderr for fetches longer than one page."""

    def report(progress: PageProgress) -> None:
        if progress.pages > 1 and progress.last_ms is not None:
            day = datetime.fromtimestamp(progress.last_ms / 1000, UTC).strftime("%Y-%m-%d")
            typer.echo(f"  {symbol}: page {progress.pages}, {progress.candles} candles, up to {day}", err=True)

    return report
