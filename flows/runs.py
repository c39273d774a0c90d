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
    """Who started the flow run in context (``runs.trigger``): see ``trigger_of``."""
    context = FlowRunContext.get()
    return trigger_of(context.flow_run if context else None)


def trigger_of(run: FlowRun | None) -> str:
    """``scheduled`` for a flow run its deployment's schedule created (Prefect's scheduler marks those
    ``auto_scheduled``), ``manual`` for a deployment run by hand (the UI, ``prefect deployment run``, the
    API), ``cli`` for the flow called directly (``forecaster run``, a script)."""
    if run is None or run.deployment_id is None:
        return "cli"
    return "scheduled" if run.auto_scheduled else "manual"


def record_unfinished_run(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """A flow hook (on failure, on crash): a run refused before it recorded itself (bad parameters,
    database down at start) is kept in ``runs`` with the reason, so every run leaves a row."""
    try:
        record_failed_run(
            sessions(),
            trigger_of(flow_run),
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
