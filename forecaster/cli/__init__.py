"""The ``forecaster`` command. Errors are one line and a non-zero exit; ``--debug`` shows tracebacks."""

from __future__ import annotations

import logging
import os
import sys

import typer
from pydantic import ValidationError

from forecaster.cli import backtest, db, ingest, model, registry, report
from forecaster.cli.common import validation_message
from forecaster.config import Settings
from forecaster.errors import ForecasterError
from forecaster.runtime import set_torch_threads

app = typer.Typer(
    name="forecaster",
    help="Daily crypto forecasting job: ingest candles, train, forecast, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(registry.app, name="registry")
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
        set_torch_threads(Settings().torch_threads)
        # Outside standalone mode click returns a command's exit code (typer.Exit) instead of exiting.
        code = app(standalone_mode=False)
    except (ForecasterError, ValidationError) as exc:
        if debug:
            raise
        message = validation_message(exc) if isinstance(exc, ValidationError) else str(exc)
        typer.echo(f"error: {message}", err=True)
        sys.exit(1)
    except (typer.Exit, typer.Abort) as exc:
        sys.exit(getattr(exc, "exit_code", 1))
    except Exception as exc:
        usage = getattr(exc, "format_message", None)  # typer's (vendored click) usage errors
        if callable(usage) and isinstance(getattr(exc, "exit_code", None), int):
            typer.echo(f"error: {usage()}", err=True)
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        if debug:
            raise
        typer.echo(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        sys.exit(1)
    if isinstance(code, int) and code:
        sys.exit(code)
