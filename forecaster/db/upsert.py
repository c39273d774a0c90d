"""Each dialect's native upsert (``INSERT .. ON CONFLICT``), for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert(session: Session, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert ``rows``; where a row with the same ``keys`` exists, overwrite its other columns."""
    if not rows:
        return
    stmt = _dialect_insert(session)(table)
    updates = {column.name: stmt.excluded[column.name] for column in table.columns if column.name not in keys}
    session.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=updates), list(rows))


def insert_missing(session: Session, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert ``rows``, leaving alone any row whose ``keys`` already exist (``ON CONFLICT DO NOTHING``)."""
    if not rows:
        return
    stmt = _dialect_insert(session)(table).on_conflict_do_nothing(index_elements=list(keys))
    session.execute(stmt, list(rows))


def _dialect_insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is None:
        raise NotImplementedError(f"no native upsert for the {dialect} dialect")
    return insert
