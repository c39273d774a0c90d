"""Publishing a run: Prefect artifacts (new forecasts, accuracy against naive) and PNG plots."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from sqlalchemy import select

from flows.params import Pair
from flows.resources import sessions, settings
from forecaster.db.models import Forecast
from forecaster.errors import InputError
from forecaster.report.markdown import accuracy_markdown
from forecaster.report.plots import plot_forecasts


@task(name="publish")
def publish_task(run_id: int, pairs: list[Pair], as_of: datetime | None) -> list[str]:
    """Artifacts of run ``run_id``; returns the plot files written."""
    factory = sessions()
    with factory() as session:
        rows = session.execute(
            select(
                Forecast.exchange,
                Forecast.symbol,
                Forecast.model,
                Forecast.as_of,
                Forecast.horizon,
                Forecast.target_ts,
                Forecast.yhat,
                Forecast.yhat_lower,
                Forecast.yhat_upper,
                Forecast.beats_naive,
            )
            .where(Forecast.run_id == run_id)
            .order_by(Forecast.symbol, Forecast.as_of, Forecast.model, Forecast.horizon)
        ).all()
        newest = accuracy_as_of(max((row.as_of for row in rows), default=None), as_of)
        markdown = accuracy_markdown(session, [pair.key for pair in pairs], newest)
    table = pd.DataFrame(
        rows,
        columns=[
            "exchange",
            "symbol",
            "model",
            "as_of",
            "horizon",
            "target_ts",
            "yhat",
            "yhat_lower",
            "yhat_upper",
            "beats_naive",
        ],
    )
    for column in ("as_of", "target_ts"):
        table[column] = pd.to_datetime(table[column], utc=True).dt.strftime("%Y-%m-%d")
    table = table.round({"yhat": 6, "yhat_lower": 6, "yhat_upper": 6}).astype(object).where(table.notna(), None)
    create_table_artifact(
        table.to_dict("records"), key=f"forecasts-run-{run_id}", description=f"Forecasts written by run {run_id}"
    )
    create_markdown_artifact(markdown, key="accuracy-vs-naive", description="Accuracy against naive, 30 and 90 days")

    written = []
    for pair in pairs:
        out = settings().reports_dir / f"{pair.exchange}_{pair.symbol.replace('/', '-')}_{pair.timeframe}.png"
        with factory() as session:
            try:
                path = plot_forecasts(session, pair.key, out)
            except InputError:
                continue  # nothing forecast yet for this series
        written.append(str(path))
        create_link_artifact(
            path.resolve().as_uri(),
            link_text=f"{pair} forecast plot",
            key=_artifact_key(pair),
            description=f"Actual vs forecast with intervals, {pair}",
        )
    return written


def accuracy_as_of(newest: datetime | None, as_of: datetime | None) -> datetime:
    """The day the accuracy summary runs up to: the run's newest forecast, its as-of day, or now, in UTC."""
    return newest or as_of or datetime.now(UTC)


def _artifact_key(pair: Pair) -> str:
    """Artifact keys allow lowercase letters, digits and dashes."""
    text = f"plot-{pair.exchange}-{pair.symbol}-{pair.timeframe}".lower()
    return "".join(char if char.isalnum() else "-" for char in text)
