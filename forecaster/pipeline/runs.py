"""The ``runs`` table: each run of the job (daily, manual, backtest), its parameters and outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import redact_url
from forecaster.db.models import Run
from forecaster.registry.manifest import build_manifest

SECRET_WORDS = ("password", "secret", "token", "apikey", "api_key")


def start_run(
    sessions: sessionmaker[Session],
    kind: str,
    *,
    parameters: dict[str, Any],
    as_of: datetime | None = None,
    flow_run_id: str | None = None,
) -> int:
    """Record a run as ``running``; returns its id."""
    run = Run(
        kind=kind,
        flow_run_id=flow_run_id,
        as_of=as_of,
        parameters=scrub(parameters),
        manifest=build_manifest(),
        started_at=datetime.now(UTC),
        status="running",
    )
    with sessions.begin() as session:
        session.add(run)
    return run.id


def finish_run(sessions: sessionmaker[Session], run_id: int, status: str, summary: str) -> None:
    with sessions.begin() as session:
        run = session.get_one(Run, run_id)
        run.status = status
        run.summary = summary
        run.finished_at = datetime.now(UTC)


def scrub(value: Any) -> Any:
    """Parameters fit to store and print: secrets dropped, passwords in URLs masked."""
    if isinstance(value, dict):
        return {
            key: "***" if any(word in str(key).lower() for word in SECRET_WORDS) else scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if isinstance(value, str) and "://" in value and "@" in value:
        return redact_url(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
