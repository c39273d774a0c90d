"""Telling integrity errors apart: which constraint a failed write violated, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Table, UniqueConstraint
from sqlalchemy.exc import IntegrityError

# PostgreSQL's SQLSTATE of a unique violation.
UNIQUE_VIOLATION = "23505"


def violates_unique(error: IntegrityError, table: Table, name: str) -> bool:
    """Whether ``error`` is the violation of ``table``'s unique constraint ``name``, and nothing else.

    PostgreSQL (psycopg) names the constraint in the error's diagnostics; SQLite names its columns in
    the message (``UNIQUE constraint failed: t.a, t.b``). A foreign-key or not-null violation, or
    another unique constraint, is not this one.
    """
    constraint = next(
        (item for item in table.constraints if isinstance(item, UniqueConstraint) and item.name == name), None
    )
    if constraint is None:
        raise ValueError(f"table {table.name} has no unique constraint {name}")
    original = error.orig
    diag = getattr(original, "diag", None)
    if diag is not None:
        return getattr(original, "sqlstate", None) == UNIQUE_VIOLATION and diag.constraint_name == name
    columns = ", ".join(f"{table.name}.{column.name}" for column in constraint.columns)
    return str(original) == f"UNIQUE constraint failed: {columns}"
