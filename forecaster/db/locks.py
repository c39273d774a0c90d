"""One trainer per series at a time, across processes and machines: a PostgreSQL advisory lock.

Two daily runs of the same series (a manual run while the schedule fires) would otherwise both
train the same day's model; the unique key of ``model_versions`` would keep one version and the
loser would drop its checkpoint, so the rows stay right, but the training is done twice. With the
lock the second run waits for the first to register its version, then finds it and reuses it.

- PostgreSQL: ``pg_advisory_lock`` on a key hashed from the lock's name (a stable 64-bit BLAKE2b
  digest), held on a dedicated connection for the block and released at its end. A process that
  dies loses its connection, and the server releases the lock with it.
- SQLite: no lock. Its writers serialise by themselves, within one process training takes turns
  (``forecaster.jobs``), and across processes the unique keys decide: forecasts are written with
  ``ON CONFLICT DO NOTHING``, candles upserted, a losing model registration yields to the winner.

Everything else (candles, forecasts, scores) is already idempotent under concurrent writers, so
this is the only lock (besides the one each migration takes: ``forecaster.db.migrate``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (the same in every process and version of Python)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def advisory_lock(sessions: sessionmaker[Session], name: str) -> Iterator[None]:
    """Hold the advisory lock ``name`` for the block on PostgreSQL, waiting for it if taken; a no-op elsewhere."""
    with sessions() as session:
        bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if engine.dialect.name != "postgresql":
        yield
        return
    key = {"key": lock_key(name)}
    with engine.connect() as conn:
        if not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar_one():
            log.info("waiting for another run holding %s", name)
            conn.execute(text("SELECT pg_advisory_lock(:key)"), key)
        conn.commit()
        try:
            yield
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)
                conn.commit()
            except DBAPIError:
                conn.invalidate()  # the server dropped this session, and the lock with it
