"""The ``forecaster`` console command (``flows.cli:main``) run as users run it: in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def forecaster(
    *args: str, cwd: Path, database_url: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``forecaster ARGS [--database-url URL]`` in ``cwd``; the test's environment plus ``env``."""
    database = ["--database-url", database_url] if database_url else []
    return subprocess.run(
        [sys.executable, "-c", "from flows.cli import main; main()", *args, *database],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
