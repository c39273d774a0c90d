"""Keeping the ``runs`` table true to Prefect: the trigger of a run, runs that failed before starting,
and runs whose process died."""

from __future__ import annotations

import logging
from typing import Any

from prefect import Flow, get_client
from prefect.client.schemas.objects import FlowRun
from prefect.context import FlowRunContext
from prefect.states import State

from flows.resources import sessions
from forecaster.pipeline.runs import mark_crashed, record_failed_run, unfinished_runs

logger = logging.getLogger(__name__)


def run_trigger() -> str:
    """``daily`` for a run its deployment's schedule made, ``manual`` for anything else."""
    context = FlowRunContext.get()
    flow_run = context.flow_run if context else None
    if flow_run is not None and flow_run.deployment_id is not None and flow_run.auto_scheduled:
        return "daily"
    return "manual"


def record_unfinished_run(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """A flow hook (on failure, on crash): a run refused before it recorded itself (bad parameters,
    database down at start) is kept in ``runs`` with the reason, so every run leaves a row."""
    kind = "daily" if flow_run.deployment_id is not None and flow_run.auto_scheduled else "manual"
    try:
        record_failed_run(
            sessions(),
            kind,
            parameters=dict(flow_run.parameters),
            flow_run_id=str(flow_run.id),
            error=state.message or state.name or "failed",
        )
    except Exception as exc:  # noqa: BLE001 - a hook must not hide the run's own failure
        logger.warning("could not record the failed run in the database: %s", exc)


def crashed_run_ids(candidates: dict[int, str]) -> list[int]:
    """Of ``runs`` rows still ``running``, those whose Prefect flow run has ended (or is unknown)."""
    if not candidates:
        return []
    ended = []
    with get_client(sync_client=True) as client:
        for run_id, flow_run_id in candidates.items():
            try:
                state = client.read_flow_run(flow_run_id).state  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001 - a flow run this server does not know cannot be running
                ended.append(run_id)
                continue
            if state is None or state.is_final():
                ended.append(run_id)
    return ended


def reap_crashed_runs() -> list[int]:
    """Mark ``crashed`` the runs a killed process left ``running``; returns their ids."""
    factory = sessions()
    ids = crashed_run_ids(unfinished_runs(factory))
    mark_crashed(factory, ids, "crashed: its process ended without finishing the run (marked by a later run)")
    return ids
