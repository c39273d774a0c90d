"""Per-process resources for tasks: one engine per database URL, settings from the environment.

Tasks may run in worker processes (Dask, work pools): each opens what it needs from the
environment there, rather than receiving live connections.
"""

from __future__ import annotations

import atexit
from functools import cache

from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import Settings
from forecaster.db.engine import make_engine, ping, session_factory
from forecaster.db.migrate import ensure_schema
from forecaster.errors import InputError
from forecaster.runtime import set_torch_threads


def settings() -> Settings:
    return Settings()


def check_worker_settings(config: Settings) -> None:
    """A deployment's run works in a fresh temporary folder: relative paths there would be lost with it."""
    relative = config.relative_paths()
    if relative:
        raise InputError(
            f"{' and '.join(relative)} is relative to a temporary working directory: set an absolute path "
            "(a SQLite file or a PostgreSQL URL; a data folder) in the worker's environment"
        )


def torch_threads() -> int:
    """Set torch's threads in this process from the environment (``FORECASTER_TORCH_THREADS``): called by
    each flow and by each task that runs torch, since a task may run in a worker process of its own."""
    return set_torch_threads(settings().torch_threads)


def sessions() -> sessionmaker[Session]:
    return _sessions(settings().database_url.get_secret_value())


@cache
def _sessions(url: str) -> sessionmaker[Session]:
    engine = make_engine(url)
    # Closing the pool at exit checkpoints SQLite's write-ahead log into the database file, so
    # that the file alone holds every row (and no -wal/-shm files are left beside it).
    atexit.register(engine.dispose)
    ping(engine)
    ensure_schema(engine)
    return session_factory(engine)
