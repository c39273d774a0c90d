"""The ``forecaster`` command. Errors are one line and a non-zero exit; ``--debug`` shows tracebacks."""

from __future__ import annotations

import logging
import os
import sys

import typer

from forecaster.cli import backtest, db, ingest, model, registry, report
from forecaster.errors import ForecasterError

# The command tree is built before the arguments are read: it imports typer and the command modules,
# which import what a command needs (torch, pandas, SQLAlchemy, ccxt...) only when it runs.

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
        torch_threads()
        # Outside standalone mode click returns a command's exit code (typer.Exit) instead of exiting.
        code = app(standalone_mode=False)
    except (typer.Exit, typer.Abort) as exc:
        sys.exit(getattr(exc, "exit_code", 1))
    except Exception as exc:
        usage = getattr(exc, "format_message", None)  # typer's (vendored click) usage errors
        if callable(usage) and isinstance(getattr(exc, "exit_code", None), int):
            typer.echo(f"error: {usage()}", err=True)
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        if debug:
            raise
        typer.echo(f"error: {failure_message(exc)}", err=True)
        sys.exit(1)
    if isinstance(code, int) and code:
        sys.exit(code)


def torch_threads() -> None:
    """FORECASTER_TORCH_THREADS, read before the arguments (a bad value is one line, whatever the command)
    and applied to torch when it is loaded already; the commands that train or forecast apply it when
    they load torch (``cli.common.use_torch_threads``). ``--help`` and a bad option stay light."""
    from forecaster.config import Settings

    threads = Settings().torch_threads
    if "torch" in sys.modules:
        from forecaster.runtime import set_torch_threads

        set_torch_threads(threads)


def failure_message(exc: Exception) -> str:
    """One line for a failed command: ours and pydantic's errors as they are, others as unexpected."""
    if isinstance(exc, ForecasterError):
        return str(exc)
    from pydantic import ValidationError  # already imported when one was raised

    from forecaster.cli.common import validation_message

    if isinstance(exc, ValidationError):
        return validation_message(exc)
    return f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)"
