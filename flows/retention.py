"""The retention policy as a Prefect task: the daily flow prunes the registry after publishing."""

from __future__ import annotations

from prefect import get_run_logger, task

from flows.resources import sessions, settings
from forecaster.registry.prune import RetentionPolicy, prune


@task(name="prune registry")
def prune_task() -> str:
    """Prune the checkpoints the policy no longer keeps (``FORECASTER_KEEP_LAST``, ``_KEEP_FULL_WEEKS``),
    unless ``FORECASTER_PRUNE_AFTER_RUN`` is false; returns the one-line report."""
    config = settings()
    if not config.prune_after_run:
        return "pruning is off (FORECASTER_PRUNE_AFTER_RUN=false)"
    line = prune(sessions(), RetentionPolicy.from_settings(config), config.checkpoint_dir).line()
    get_run_logger().info("registry: %s", line)
    return line
