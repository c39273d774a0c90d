"""``forecaster serve`` keeps to its own deployment: it never takes over one made by ``prefect deploy``."""

from __future__ import annotations

from prefect import get_client
from prefect.exceptions import ObjectNotFound

from forecaster.errors import InputError


def check_servable(name: str) -> None:
    """Refuse to serve as ``flow/deployment`` ``name`` when a deployment of that name runs on a work pool:
    serving would replace its work pool, tags, description and parameters, and pause it on exit."""
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(name)
        except ObjectNotFound:
            return
    if deployment.work_pool_name:
        raise InputError(
            f"deployment {name} runs on work pool {deployment.work_pool_name!r}: forecaster serve will not "
            "take it over; pick another --name"
        )
