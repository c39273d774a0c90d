"""The ``forecaster`` command. Errors are one line and a non-zero exit; ``--debug`` shows tracebacks."""

from __future__ import annotations

import logging
import os
import sys

import typer

from forecaster.cli import backtest, db, ingest, model, report
from forecaster.errors import ForecasterError

app = typer.Typer(
    name="forecaster",
    help="Daily crypto forecasting job: ingest candles, train, forecast, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
ingest.register(app)
model.register(app)
report.register(app)
backtest.register(app)


def main() -> None:
    """Console entry point."""
    debug = "--debug" in sys.argv or os.environ.get("FORECASTER_DEBUG") == "1"
    # Lightning announces accelerators and tips at INFO on every fit: keep its warnings only.
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    if "--debug" in sys.argv:
        sys.argv.remove("--debug")
    try:
        app(standalone_mode=False)
    except ForecasterError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except (typer.Exit, typer.Abort) as exc:
        sys.exit(getattr(exc, "exit_code", 1))
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if debug:
            raise
        typer.echo(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        sys.exit(1)
