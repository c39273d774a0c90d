"""SQL is never built from strings: every statement in the package is a constant or a SQLAlchemy construct."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SQL_CALLS = {"text", "exec_driver_sql", "execute", "executescript", "executemany"}


def _built_string(node: ast.expr) -> bool:
    """An f-string, ``+``/``%`` concatenation or ``.format`` call: a string assembled at run time."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"


def test_no_sql_is_built_by_string_formatting():
    offenders = []
    for path in [*ROOT.joinpath("forecaster").rglob("*.py"), *ROOT.joinpath("flows").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in SQL_CALLS and _built_string(node.args[0]):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
