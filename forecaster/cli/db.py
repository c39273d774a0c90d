"""``forecaster db``: schema management."""

from __future__ import annotations

import typer

from forecaster.cli.common import DatabaseOption, settings

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command(database_url: DatabaseOption = None) -> None:
    """Bring the database to the newest schema (creates it when empty)."""
    from forecaster.db.engine import make_engine, ping
    from forecaster.db.migrate import upgrade

    config = settings(database_url)
    engine = make_engine(config.database_url.get_secret_value())
    ping(engine)
    before, after = upgrade(engine)
    if before == after:
        typer.echo(f"{config.safe_database_url}: already at the newest schema ({after})")
    else:
        typer.echo(f"{config.safe_database_url}: schema {before or 'empty'} -> {after}")


@app.command("head")
def head_command() -> None:
    """Print the newest schema revision this forecaster knows."""
    from forecaster.db.migrate import head_revision

    typer.echo(head_revision())
