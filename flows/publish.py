"""Publishing a series after a run: Prefect artifacts under stable keys, the chart inside them.

Per series, two keys that always hold its latest state (each run adds a version, so the history stays):
``forecast-<exchange>-<symbol>-<timeframe>``, a table of the newest forecast set (one row per horizon),
and ``summary-<exchange>-<symbol>-<timeframe>``, markdown with the chart (a PNG embedded in the page,
visible from any browser that reaches the Prefect UI) and the accuracy against naive over 30 and 90 days.
The PNG is also written below ``FORECASTER_DATA_DIR/reports``.
"""

from __future__ import annotations

import base64
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.resources import sessions, settings
from forecaster.report.markdown import accuracy_markdown
from forecaster.report.paths import report_path
from forecaster.report.plots import plot_forecasts
from forecaster.report.tables import forecast_table, newest_as_of
from forecaster.series import SeriesKey


@task(name="publish", task_run_name="publish {key}")
def publish_task(key: SeriesKey, run_id: int, min_n: int) -> str | None:
    """The series' artifacts after run ``run_id``; returns the chart's path (None: nothing forecast yet).
    Accuracy gets a verdict from ``min_n`` scored forecasts on (the gate's ``min_pairs``)."""
    with sessions()() as session:
        as_of = newest_as_of(session, key)
        if as_of is None:
            get_run_logger().info("%s: nothing forecast yet, nothing to publish", key)
            return None
        table = forecast_table(session, key, as_of)
        chart = plot_forecasts(session, key, report_path(settings().reports_dir, key))
        accuracy = accuracy_markdown(session, [key], min_n=min_n)
    title = f"{key.symbol} on {key.exchange} ({key.timeframe}), as of {as_of:%Y-%m-%d}"
    create_table_artifact(
        table.to_dict("records"),
        key=artifact_key("forecast", key),
        description=f"Forecasts of {title} (run {run_id})",
    )
    create_markdown_artifact(
        f"# {title}\n\n{embedded_png(chart, f'forecast chart of {key}')}\n\n{accuracy}",
        key=artifact_key("summary", key),
        description=f"Chart and accuracy against naive, {title} (run {run_id})",
    )
    get_run_logger().info("%s: published forecast and summary artifacts; chart at %s", key, chart)
    return str(chart)


def embedded_png(path: Path, alt: str) -> str:
    """Markdown that shows the PNG at ``path`` itself (a data URI): the Prefect UI renders it anywhere."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(path.read_bytes()).decode('ascii')})"


def artifact_key(kind: str, key: SeriesKey) -> str:
    """Artifact keys allow lowercase letters, digits and dashes: ``summary-binance-btc-usdt-1d``."""
    text = f"{kind}-{key.exchange}-{key.symbol}-{key.timeframe}".lower()
    return "".join(char if char.isalnum() else "-" for char in text)
