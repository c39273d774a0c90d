"""PNG charts: forecasts against actual closes, training losses, rolling MAE against naive.

Charts are drawn on ``matplotlib.figure.Figure`` objects (Agg through ``savefig``), never through
pyplot, so no global figure state is kept; files are written atomically.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from forecaster.db.models import Forecast
from forecaster.errors import InputError
from forecaster.ingest.store import load_candles
from forecaster.model.artifact import TrainedModel
from forecaster.report.accuracy import NAIVE, model_rank
from forecaster.results.forecasts import MODEL
from forecaster.series import SeriesKey, of_series


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
    models = sorted(wide.columns, key=lambda name: (model_rank(name), name))
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
