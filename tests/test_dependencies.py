"""The declared dependencies are exactly what the package imports: none missing (it would break a clean
install), none unused (weight, and a promise the code does not keep)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OWN = {"forecaster", "flows", "__future__"}
# Declared, yet never imported by name: loaded by another library at run time.
LOADED_INDIRECTLY = {"psycopg": "SQLAlchemy's PostgreSQL driver, chosen by the database URL"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {normalise(re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0]) for spec in project["dependencies"]}


def imported_modules() -> set[str]:
    modules = set()
    for package in ("forecaster", "flows"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    return {module for module in modules if module not in sys.stdlib_module_names and module not in OWN}


def imported_distributions() -> set[str]:
    owners = packages_distributions()
    found = set()
    for module in imported_modules():
        assert module in owners, f"{module} is imported but no installed distribution provides it"
        found |= {normalise(name) for name in owners[module]}
    return found


def test_every_imported_library_is_declared():
    missing = imported_distributions() - declared()
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"


def test_every_declared_library_is_used():
    unused = declared() - imported_distributions() - set(LOADED_INDIRECTLY)
    assert not unused, f"declared in pyproject.toml but never imported: {sorted(unused)}"
