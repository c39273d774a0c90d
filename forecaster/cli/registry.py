"""``forecaster registry``: the model registry's checkpoints and their retention."""

from __future__ import annotations

from typing import Annotated

import typer

from forecaster.cli.common import DatabaseOption, open_database, settings

app = typer.Typer(help="Model versions and their checkpoints.", no_args_is_help=True)


@app.command("prune")
def prune_command(
    keep_last: Annotated[
        int | None,
        typer.Option(
            "--keep-last", min=1, help="Newest versions kept per series and run kind [env FORECASTER_KEEP_LAST, 7]."
        ),
    ] = None,
    keep_full_weeks: Annotated[
        int | None,
        typer.Option(
            "--keep-full-weeks",
            min=0,
            help="Keep every full retrain of this many weeks [env FORECASTER_KEEP_FULL_WEEKS, 4].",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be pruned.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Delete the checkpoints the retention policy no longer keeps (the versions' rows stay, marked pruned).

    Kept: versions a forecast awaiting its score references, the newest --keep-last per series and run
    kind, the full retrains of the last --keep-full-weeks weeks, and every ancestor of those.
    """
    from forecaster.registry.prune import RetentionPolicy, prune

    config = settings(database_url, keep_last=keep_last, keep_full_weeks=keep_full_weeks)
    sessions = open_database(config)
    report = prune(sessions, RetentionPolicy.from_settings(config), config.checkpoint_dir, dry_run=dry_run)
    typer.echo(report.line())
