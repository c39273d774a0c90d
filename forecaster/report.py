"""Reports on stored forecasts: accuracy tables, a markdown summary and PNG charts.

Every function takes the SQLAlchemy ``Session`` (read only) and the output path from its caller.
Charts are drawn on ``matplotlib.figure.Figure`` objects (Agg through ``savefig``), never through
pyplot, so no global figure state is kept; files are written atomically.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from forecaster.db.models import Forecast, ForecastError
from forecaster.errors import InputError
from forecaster.ingest.store import SeriesKey, load_candles, of_series
from forecaster.model import metrics
from forecaster.model.artifact import TrainedModel
from forecaster.model.baselines import baseline_names
from forecaster.results.forecasts import MODEL

NAIVE = "naive"
GROUP = ["model", "exchange", "symbol", "timeframe", "horizon"]
PAIR = ["exchange", "symbol", "timeframe", "as_of", "horizon"]
ACCURACY_COLUMNS = [*GROUP, "n", "mae", "rmse", "mape", "mae_vs_naive", "direction_accuracy", "coverage"]
_SCORED = [
    "model",
    "exchange",
    "symbol",
    "timeframe",
    "horizon",
    "as_of",
    "target_ts",
    "yhat",
    "actual",
    "abs_error",
    "direction_hit",
    "inside_interval",
]


# --- accuracy ----------------------------------------------------------------------------------


def accuracy_table(
    session: Session,
    *,
    key: SeriesKey | None = None,
    run_kind: str = "live",
    since: datetime | None = None,
    until: datetime | None = None,
) -> pd.DataFrame:
    """Accuracy per model, series and horizon of the scored forecasts with ``since < target_ts <= until``.

    Columns: model, exchange, symbol, timeframe, horizon, n, mae, rmse, mape (percent),
    mae_vs_naive (the model's MAE over naive's, both on the (as_of, horizon) pairs they share;
    NaN without pairs), direction_accuracy and coverage (shares, forecasts without a call or an
    interval left out; NaN when none has one). Sorted by series, model (ours first), horizon.
    """
    scored = scored_forecasts(session, key=key, run_kind=run_kind, since=since, until=until)
    if scored.empty:
        return pd.DataFrame(columns=ACCURACY_COLUMNS)
    rows = [_accuracy_row(group) for _, group in scored.groupby(GROUP, sort=False)]
    table = pd.DataFrame(rows, columns=[*GROUP, "n", "mae", "rmse", "mape", "direction_accuracy", "coverage"])
    table["mae_vs_naive"] = _mae_vs_naive(scored, table)
    table["horizon"] = table["horizon"].astype(int)
    table["n"] = table["n"].astype(int)
    table["_order"] = table["model"].map(_model_rank)
    table = table.sort_values(["exchange", "symbol", "timeframe", "_order", "model", "horizon"])
    return table[ACCURACY_COLUMNS].reset_index(drop=True)


def scored_forecasts(
    session: Session,
    *,
    key: SeriesKey | None = None,
    run_kind: str = "live",
    since: datetime | None = None,
    until: datetime | None = None,
    horizon: int | None = None,
) -> pd.DataFrame:
    """Every scored forecast with ``since < target_ts <= until`` (all series when ``key`` is None, all
    horizons when ``horizon`` is None), one row each: model, series, horizon, as_of, target_ts, yhat, and
    its score (actual, abs_error, direction_hit, inside_interval)."""
    query = (
        select(
            Forecast.model,
            Forecast.exchange,
            Forecast.symbol,
            Forecast.timeframe,
            Forecast.horizon,
            Forecast.as_of,
            Forecast.target_ts,
            Forecast.yhat,
            ForecastError.actual,
            ForecastError.abs_error,
            ForecastError.direction_hit,
            ForecastError.inside_interval,
        )
        .join(ForecastError, ForecastError.forecast_id == Forecast.id)
        .where(Forecast.run_kind == run_kind)
    )
    if key is not None:
        query = query.where(of_series(Forecast, key))
    if since is not None:
        query = query.where(Forecast.target_ts > since)
    if until is not None:
        query = query.where(Forecast.target_ts <= until)
    if horizon is not None:
        query = query.where(Forecast.horizon == horizon)
    return pd.DataFrame(session.execute(query).all(), columns=_SCORED)


def _accuracy_row(group: pd.DataFrame) -> list[object]:
    first = group.iloc[0]
    return [
        *(first[column] for column in GROUP),
        len(group),
        metrics.mae(group["actual"], group["yhat"]),
        metrics.rmse(group["actual"], group["yhat"]),
        metrics.mape(group["actual"], group["yhat"]),
        _share(group["direction_hit"]),
        _share(group["inside_interval"]),
    ]


def _share(flags: pd.Series) -> float:
    """Share of true values among the non-null ones (NaN when all are null)."""
    known = flags.dropna()
    return float(known.astype(bool).mean()) if len(known) else float("nan")


def _mae_vs_naive(scored: pd.DataFrame, table: pd.DataFrame) -> pd.Series:
    """Per table row: mean |error| over naive's on the same (series, as_of, horizon) forecasts."""
    naive = scored.loc[scored["model"] == NAIVE, [*PAIR, "abs_error"]]
    paired = scored.merge(naive, on=PAIR, suffixes=("", "_naive"))
    sums = paired.groupby(GROUP, sort=False)[["abs_error", "abs_error_naive"]].sum()
    ratio = (sums["abs_error"] / sums["abs_error_naive"].where(sums["abs_error_naive"] > 0)).rename("mae_vs_naive")
    return table[GROUP].merge(ratio.reset_index(), on=GROUP, how="left")["mae_vs_naive"].astype(float)


def _model_rank(model: str) -> int:
    order = [MODEL, *baseline_names()]
    return order.index(model) if model in order else len(order)


def newest_scored(session: Session, key: SeriesKey, run_kind: str = "live") -> datetime | None:
    """Target time of the newest scored forecast of ``key``: where a summary's windows end (None: none)."""
    return session.scalars(
        select(Forecast.target_ts)
        .join(ForecastError, ForecastError.forecast_id == Forecast.id)
        .where(
            of_series(Forecast, key),
            Forecast.run_kind == run_kind,
        )
        .order_by(Forecast.target_ts.desc())
        .limit(1)
    ).first()


# --- markdown ----------------------------------------------------------------------------------


def accuracy_markdown(
    session: Session,
    keys: Sequence[SeriesKey],
    as_of: datetime,
    windows: Sequence[int] = (30, 90),
    run_kind: str = "live",
) -> str:
    """A markdown summary (for a Prefect artifact) of each series' accuracy over the last ``windows`` days.

    Per series and window: a table of every model at horizon 1 and averaged over all horizons
    (MAE, MAE vs naive, direction accuracy, coverage), and one plain sentence on whether the
    model beats naive.
    """
    lines = [f"## Forecast accuracy ({run_kind}) up to {as_of:%Y-%m-%d}"]
    for key in keys:
        lines += ["", f"### {key.symbol} on {key.exchange} ({key.timeframe})"]
        for days in windows:
            table = accuracy_table(session, key=key, run_kind=run_kind, since=as_of - timedelta(days=days), until=as_of)
            lines += ["", f"#### Last {days} days", "", window_markdown(table, days)]
    return "\n".join(lines) + "\n"


def window_markdown(table: pd.DataFrame, days: int) -> str:
    """Markdown of one ``accuracy_table`` of one series over the last ``days`` days: the table and a verdict."""
    if table.empty:
        return f"Nothing scored yet in the last {days} days."
    lines = [
        "| model | horizon | n | MAE | MAE vs naive | direction | coverage |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for model, rows in table.groupby("model", sort=False):
        first = rows[rows["horizon"] == 1]
        if not first.empty:
            lines.append(_markdown_row(str(model), "1", first.iloc[0]))
        if len(rows) > 1 or first.empty:
            label = f"mean {rows['horizon'].min()}–{rows['horizon'].max()}"
            lines.append(_markdown_row(str(model), label, _horizon_mean(rows)))
    return "\n".join([*lines, "", _verdict(table, days)])


def _horizon_mean(rows: pd.DataFrame) -> pd.Series:
    """The unweighted mean over horizons of each metric; n is the total."""
    means = rows[["mae", "mae_vs_naive", "direction_accuracy", "coverage"]].mean()
    return pd.concat([means, pd.Series({"n": rows["n"].sum()})])


def _markdown_row(model: str, horizon: str, row: pd.Series) -> str:
    cells = [
        model,
        horizon,
        str(int(row["n"])),
        _price(row["mae"]),
        _ratio(row["mae_vs_naive"]),
        _percent(row["direction_accuracy"]),
        _percent(row["coverage"]),
    ]
    return "| " + " | ".join(cells) + " |"


def _verdict(table: pd.DataFrame, days: int) -> str:
    """One plain sentence on the model against naive at horizon 1 (and over all horizons)."""
    ours = table[table["model"] == MODEL]
    if ours.empty:
        return f"No {MODEL} forecast scored in the last {days} days (baselines only)."
    first = ours[ours["horizon"] == 1]
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


# --- charts ------------------------------------------------------------------------------------


def plot_forecasts(
    session: Session,
    key: SeriesKey,
    out: Path,
    *,
    run_kind: str = "live",
    days: int = 120,
    horizon: int = 1,
    model: str = MODEL,
) -> Path:
    """Chart of the closes of the last ``days`` days, the ``horizon``-step forecasts and the newest fan.

    Draws the model's ``horizon``-step forecasts with their interval band, naive's as a dashed
    line, and the newest forecast set of the model (horizons 1..H, from its as-of close) as a fan.

    Raises:
        InputError: the model has no ``run_kind`` forecast of this series.
    """
    newest = session.execute(
        _forecasts_query(key, run_kind, [model]).order_by(Forecast.as_of.desc(), Forecast.horizon.desc()).limit(1)
    ).first()
    if newest is None:
        hint = "run a backtest first" if run_kind == "backtest" else "run the forecast step first"
        raise InputError(f"nothing to plot: no {run_kind} {model} forecast of {key}; {hint}")
    end = pd.Timestamp(newest.target_ts)
    start = end - pd.Timedelta(days=days)
    rows = session.execute(_forecasts_query(key, run_kind, [model, NAIVE]).where(Forecast.target_ts > start)).all()
    forecasts = pd.DataFrame(rows, columns=["model", "as_of", "target_ts", "horizon", "yhat", "lower", "upper"])
    for column in ("as_of", "target_ts"):
        forecasts[column] = pd.to_datetime(forecasts[column], utc=True).dt.tz_convert(None)
    closes = load_candles(session, key, start=start.to_pydatetime(), end=end.to_pydatetime())
    closes["ts"] = closes["ts"].dt.tz_convert(None)

    fig = Figure(figsize=(11, 5.5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(closes["ts"], closes["close"], color="black", linewidth=1.4, label="actual close")
    ours = forecasts[(forecasts["model"] == model) & (forecasts["horizon"] == horizon)].sort_values("target_ts")
    _line_with_band(ax, ours, color="tab:blue", label=f"{model} {horizon}-step forecast")
    naive = forecasts[(forecasts["model"] == NAIVE) & (forecasts["horizon"] == horizon)].sort_values("target_ts")
    if not naive.empty:  # on top: a model close to naive would hide it
        ax.plot(
            naive["target_ts"],
            naive["yhat"],
            "--",
            color="dimgray",
            linewidth=1.2,
            zorder=3,
            label=f"naive {horizon}-step",
        )
    _fan(ax, forecasts[forecasts["model"] == model], closes)
    _style_time_axis(ax, key)
    ax.set_title(f"{key.symbol} on {key.exchange} ({key.timeframe}): {model} forecasts, {run_kind}")
    ax.legend(loc="upper left")
    return save_figure(fig, out)


def _forecasts_query(key: SeriesKey, run_kind: str, models: list[str]) -> Select:
    return select(
        Forecast.model,
        Forecast.as_of,
        Forecast.target_ts,
        Forecast.horizon,
        Forecast.yhat,
        Forecast.yhat_lower,
        Forecast.yhat_upper,
    ).where(
        of_series(Forecast, key),
        Forecast.run_kind == run_kind,
        Forecast.model.in_(models),
    )


def _line_with_band(ax: Axes, rows: pd.DataFrame, *, color: str, label: str) -> None:
    if rows.empty:
        return
    ax.plot(rows["target_ts"], rows["yhat"], color=color, linewidth=1.2, marker=".", markersize=4, label=label)
    band = rows.dropna(subset=["lower", "upper"])
    if not band.empty:
        ax.fill_between(
            band["target_ts"], band["lower"], band["upper"], color=color, alpha=0.18, label=f"{label} interval"
        )


def _fan(ax: Axes, rows: pd.DataFrame, closes: pd.DataFrame) -> None:
    """The newest forecast set, from its as-of close out to the last horizon."""
    as_of = rows["as_of"].max()
    fan = rows[rows["as_of"] == as_of].sort_values("horizon")
    anchor = closes.loc[closes["ts"] == as_of, "close"]
    x = list(fan["target_ts"])
    y, lower, upper = list(fan["yhat"]), list(fan["lower"]), list(fan["upper"])
    if not anchor.empty:
        value = float(anchor.iloc[0])
        x, y, lower, upper = [as_of, *x], [value, *y], [value, *lower], [value, *upper]
    label = f"newest forecast, as of {as_of:%Y-%m-%d} (h=1..{int(fan['horizon'].max())})"
    ax.plot(x, y, color="tab:orange", linewidth=1.8, marker="o", markersize=3, label=label)
    band = pd.DataFrame({"x": x, "lower": lower, "upper": upper}).dropna()
    if not band.empty:
        ax.fill_between(band["x"], band["lower"], band["upper"], color="tab:orange", alpha=0.25)


def _style_time_axis(ax: Axes, key: SeriesKey) -> None:
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("date (UTC)")
    quote = key.symbol.split("/")[-1].split(":")[0]
    ax.set_ylabel(f"close ({quote})")
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax.grid(True, alpha=0.3)


def plot_losses(model: TrainedModel, out: Path, *, title: str) -> Path:
    """Training and validation loss per epoch; the best validation epoch (whose weights were kept) marked.

    Raises:
        InputError: the model has no loss history.
    """
    train, val = list(model.train_loss_history), list(model.val_loss_history)
    if not train and not val:
        raise InputError("nothing to plot: the model has no loss history")
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.add_subplot()
    if train:
        ax.plot(range(1, len(train) + 1), train, marker="o", label="training loss")
    if val:
        ax.plot(range(1, len(val) + 1), val, marker="o", label="validation loss")
        best = int(np.nanargmin(val)) if not np.all(np.isnan(val)) else None
        if best is not None:
            ax.axvline(best + 1, color="tab:gray", linestyle=":", label=f"best validation epoch ({best + 1})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE on scaled targets")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return save_figure(fig, out)


def plot_rolling_mae(frame: pd.DataFrame, out: Path, *, window: int = 30, title: str) -> Path:
    """Rolling ``window``-day MAE per model (naive dashed) and, below, each model's MAE over naive's.

    ``frame`` holds horizon-1 errors: columns target_ts, model, abs_error. A curve starts once
    its window holds ``window // 2`` scored days; the ratio compares the rolling means over the
    target days both models have.

    Raises:
        InputError: no model has ``window // 2`` scored days.
        ValueError: a column is missing.
    """
    missing = {"target_ts", "model", "abs_error"} - set(frame.columns)
    if missing:
        raise ValueError(f"plot_rolling_mae needs columns target_ts, model, abs_error; missing {sorted(missing)}")
    errors = frame.assign(target_ts=pd.to_datetime(frame["target_ts"], utc=True).dt.tz_convert(None))
    wide = errors.pivot_table(index="target_ts", columns="model", values="abs_error", aggfunc="mean").sort_index()
    least = max(1, window // 2)
    if wide.empty or int(wide.count().max()) < least:
        raise InputError(f"nothing to plot: a rolling {window}-day MAE needs at least {least} scored days")
    span = f"{window}D"
    models = sorted(wide.columns, key=lambda name: (_model_rank(name), name))
    others = [name for name in models if name != NAIVE]
    has_ratio = NAIVE in wide.columns and bool(others)

    fig = Figure(figsize=(11, 6.5 if has_ratio else 4.5), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1]) if has_ratio else [fig.add_subplot()]
    top = axes[0]
    for name in models:
        rolling = wide[name].dropna().rolling(span, min_periods=least).mean()
        style = "--" if name == NAIVE else "-"
        top.plot(rolling.index, rolling.to_numpy(), style, linewidth=1.3, label=name)
    top.set_ylabel(f"MAE, rolling {window} days")
    top.set_title(title)
    top.legend(loc="upper left")
    top.grid(True, alpha=0.3)
    if has_ratio:
        bottom = axes[1]
        for name in others:
            both = wide[[name, NAIVE]].dropna()
            ratio = (
                both[name].rolling(span, min_periods=least).mean() / both[NAIVE].rolling(span, min_periods=least).mean()
            )
            bottom.plot(ratio.index, ratio.to_numpy(), linewidth=1.3, label=f"{name} / naive")
        bottom.axhline(1.0, color="tab:gray", linestyle="--", linewidth=1)
        bottom.set_ylabel("MAE / naive MAE")
        bottom.legend(loc="best")
        bottom.grid(True, alpha=0.3)
    locator = mdates.AutoDateLocator()
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes[-1].set_xlabel("target date (UTC)")
    return save_figure(fig, out)


# --- files -------------------------------------------------------------------------------------


def report_path(reports_dir: Path, key: SeriesKey) -> Path:
    """``reports_dir/<exchange>_<BASE-QUOTE>_<timeframe>.png``."""
    symbol = key.symbol.replace("/", "-").replace(":", "_")
    return reports_dir / f"{key.exchange}_{symbol}_{key.timeframe}.png"


def save_figure(fig: Figure, out: Path, *, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG to ``out`` atomically (temporary file, then rename); returns ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fig.savefig(tmp, format="png", dpi=dpi)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


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
