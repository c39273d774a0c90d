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
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is None:
        raise NotImplementedError(f"no native upsert for the {dialect} dialect")
    stmt = insert(table)
    updates = {column.name: stmt.excluded[column.name] for column in table.columns if column.name not in keys}
    session.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=updates), list(rows))
