"""Markdown summaries of accuracy (for Prefect artifacts and the terminal) and plain markdown tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from forecaster.report.accuracy import rolling_accuracy
from forecaster.results.forecasts import MODEL
from forecaster.results.scores import ROLLING_WINDOWS
from forecaster.series import SeriesKey

# Fewer scored forecasts than this give no verdict and no ratios (the naive gate's default minimum too).
MIN_SCORED = 20


def accuracy_markdown(
    session: Session,
    keys: Sequence[SeriesKey],
    *,
    run_kind: str = "live",
    windows: Sequence[int] = ROLLING_WINDOWS,
    min_n: int = MIN_SCORED,
) -> str:
    """A markdown summary (for a Prefect artifact) of each series' accuracy over the last ``windows`` days.

    Read from ``forecast_accuracy_rolling``: each window ends at the series' newest scored target day
    and holds the targets of the ``days`` days up to it (named in the heading). Per series and window:
    a table of every model at horizon 1 and averaged over all horizons (MAE, MAE vs naive, direction
    accuracy, coverage, pinball loss vs naive), and one plain sentence on whether the model beats
    naive, given with at least ``min_n`` scored forecasts (the gate's ``min_pairs``).
    """
    rolling = rolling_accuracy(session, keys, run_kind=run_kind, windows=windows)
    lines = [f"## Forecast accuracy ({run_kind})"]
    for key in keys:
        lines += ["", f"### {key.symbol} on {key.exchange} ({key.timeframe})"]
        ours = rolling[(rolling["exchange"] == key.exchange) & (rolling["symbol"] == key.symbol)]
        ours = ours[ours["timeframe"] == key.timeframe]
        for days in windows:
            table = ours[ours["window_days"] == days]
            lines += ["", f"#### Last {days} days{_span(table, days)}", "", window_markdown(table, days, min_n)]
    return "\n".join(lines) + "\n"


def _span(table: pd.DataFrame, days: int) -> str:
    """``: targets 2024-06-01..2024-06-30``, the days a window covers (empty when nothing is scored)."""
    if table.empty:
        return ""
    end = table["window_end"].iloc[0]
    return f": targets {end - timedelta(days=days - 1):%Y-%m-%d}..{end:%Y-%m-%d}"


def window_markdown(table: pd.DataFrame, days: int, min_n: int = MIN_SCORED) -> str:
    """Markdown of one series' accuracy over the last ``days`` days (rows of ``accuracy_table`` or
    ``rolling_accuracy``): the table and a verdict. Below ``min_n`` scored forecasts a row shows n and
    MAE only, and no verdict is given."""
    if table.empty:
        return f"Nothing scored yet in the last {days} days."
    lines = [
        "| model | horizon | n | MAE | MAE vs naive | direction | coverage | pinball vs naive |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for model, rows in table.groupby("model", sort=False):
        first = rows[rows["horizon"] == 1]
        if not first.empty:
            lines.append(_markdown_row(str(model), "1", first.iloc[0], min_n))
        if len(rows) > 1 or first.empty:
            label = f"mean {rows['horizon'].min()}–{rows['horizon'].max()}"
            lines.append(_markdown_row(str(model), label, _horizon_mean(rows), min_n * len(rows)))
    return "\n".join([*lines, "", _verdict(table, days, min_n)])


def _horizon_mean(rows: pd.DataFrame) -> pd.Series:
    """The unweighted mean over horizons of each metric; n is the total."""
    means = rows[["mae", "mae_vs_naive", "direction_accuracy", "coverage", "pinball_loss_vs_naive"]].mean()
    return pd.concat([means, pd.Series({"n": rows["n"].sum()})])


def _markdown_row(model: str, horizon: str, row: pd.Series, min_n: int) -> str:
    judged = int(row["n"]) >= min_n
    cells = [
        model,
        horizon,
        str(int(row["n"])),
        _price(row["mae"]),
        _ratio(row["mae_vs_naive"]) if judged else "–",
        _percent(row["direction_accuracy"]) if judged else "–",
        _percent(row["coverage"]) if judged else "–",
        _ratio(row["pinball_loss_vs_naive"]) if judged else "–",
    ]
    return "| " + " | ".join(cells) + " |"


def _verdict(table: pd.DataFrame, days: int, min_n: int) -> str:
    """One plain sentence on the model against naive at horizon 1 (and over all horizons)."""
    ours = table[table["model"] == MODEL]
    if ours.empty:
        return f"No {MODEL} forecast scored in the last {days} days (baselines only)."
    first = ours[ours["horizon"] == 1]
    scored = int(first["n"].iloc[0]) if not first.empty else 0
    if scored < min_n:
        return f"n = {scored}: too few scored {MODEL} forecasts at horizon 1 to judge (at least {min_n})."
    ratio = float(first["mae_vs_naive"].iloc[0]) if not first.empty else float("nan")
    if np.isnan(ratio):
        return f"No {MODEL} forecast at horizon 1 pairs with a scored naive one in the last {days} days."
    overall = float(ours["mae_vs_naive"].mean())
    span = f"{ours['horizon'].min()}–{ours['horizon'].max()}"
    sentence = f"{MODEL} MAE is {ratio:.2f}x naive's over the last {days} days at horizon 1"
    if len(ours) > 1 and not np.isnan(overall):
        sentence += f" ({overall:.2f}x on average over horizons {span})"
    if round(ratio, 2) == 1.0:
        return f"{sentence}: level with naive (within 0.5%), no better than carrying the last close forward."
    if ratio > 1.0:
        return f"**{sentence}: it loses to naive.**"
    return f"{sentence}: it beats naive."


def _price(value: float) -> str:
    if pd.isna(value):
        return "–"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"


def _ratio(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.2f}x"


def _percent(value: float) -> str:
    return "–" if pd.isna(value) else f"{100 * value:.0f}%"


def markdown_table(frame: pd.DataFrame, *, digits: int = 4) -> str:
    """A plain markdown table of ``frame`` (numbers to ``digits`` significant digits, NaN as blank)."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return "" if np.isnan(value) else f"{value:.{digits}g}"
        return str(value)

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(cell(value) for value in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])
