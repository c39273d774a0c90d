"""Errors that forecaster reports to its users as one clear line."""

from __future__ import annotations


class ForecasterError(Exception):
    """Base of every error the CLI prints as one line (no traceback unless ``--debug``)."""


class InputError(ForecasterError):
    """A bad option, parameter, date, file or symbol: nothing was written."""


class ExchangeUnavailable(ForecasterError):
    """The exchange could not be reached or kept failing after the retries."""


class DatabaseUnavailable(ForecasterError):
    """The database could not be reached."""


class SchemaOutdated(ForecasterError):
    """The database schema is older than this version of forecaster needs."""
