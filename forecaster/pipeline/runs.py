"""The ``runs`` table: each run of the job, who started it (``trigger``), its parameters and outcome.

Statuses: running, completed, failed, and crashed (the process died while running; marked by a later run)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import redact_url
from forecaster.db.models import TRIGGERS, Run
from forecaster.registry.manifest import build_manifest

SECRET_WORDS = ("password", "secret", "token", "apikey", "api_key")


def start_run(
    sessions: sessionmaker[Session],
    trigger: str,
    *,
    parameters: dict[str, Any],
    as_of: datetime | None = None,
    flow_run_id: str | None = None,
) -> int:
    """Record a run as ``running``; returns its id. ``trigger`` is one of ``TRIGGERS``; ``as_of`` the
    day asked for (``finish_run`` fills in the day used when none was asked)."""
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown run trigger {trigger!r}; triggers are {list(TRIGGERS)}")
    run = Run(
        trigger=trigger,
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


def record_failed_run(
    sessions: sessionmaker[Session], trigger: str, *, parameters: dict[str, Any], flow_run_id: str, error: str
) -> int | None:
    """Record a run that failed before it could record itself (e.g. its parameters were refused).

    Nothing is written when the flow run is on record already (its own ``finally`` finished it);
    returns the new run's id, or None."""
    with sessions.begin() as session:
        known = session.scalar(select(Run.id).where(Run.flow_run_id == flow_run_id))
        if known is not None:
            return None
        now = datetime.now(UTC)
        run = Run(
            trigger=trigger,
            flow_run_id=flow_run_id,
            parameters=scrub(parameters),
            manifest=build_manifest(),
            started_at=now,
            finished_at=now,
            status="failed",
            summary=error,
        )
        session.add(run)
    return run.id


def unfinished_runs(sessions: sessionmaker[Session]) -> dict[int, str]:
    """The runs still marked ``running`` that belong to a flow run: run id -> flow run id."""
    with sessions() as session:
        rows = session.execute(
            select(Run.id, Run.flow_run_id).where(Run.status == "running", Run.flow_run_id.is_not(None))
        ).all()
    return {row.id: str(row.flow_run_id) for row in rows}


def mark_crashed(sessions: sessionmaker[Session], run_ids: list[int], reason: str) -> None:
    """Close runs whose process died without finishing them (status ``crashed``)."""
    if not run_ids:
        return
    with sessions.begin() as session:
        for run in session.scalars(select(Run).where(Run.id.in_(run_ids), Run.status == "running")):
            run.status = "crashed"
            run.summary = reason
            run.finished_at = datetime.now(UTC)


def finish_run(
    sessions: sessionmaker[Session], run_id: int, status: str, summary: str, *, as_of: datetime | None = None
) -> None:
    """Record the outcome; ``as_of``, the day the run used, fills a run started without one."""
    with sessions.begin() as session:
        run = session.get_one(Run, run_id)
        if run.as_of is None and as_of is not None:
            run.as_of = as_of
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
