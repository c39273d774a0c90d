"""Calibration of the prediction intervals: coverage per horizon, overall and per volatility tercile.

Each as-of day gets the realised volatility of the ``VOLATILITY_DAYS`` days ending at it: the sample
standard deviation of the daily log returns ``log(close_t / close_t-1)`` of those days, a return
counted only between two stored candles of consecutive days (none across a missing candle), and the
day left unclassified when fewer than ``MIN_RETURNS`` returns remain. The as-of days are cut into
terciles of it (``calm``, ``normal``, ``stormy``; cut points at its 1/3 and 2/3 quantiles), and every
model's scored forecasts are counted per horizon and tercile.

``calibration_table`` is pure (scored rows and candles in, a frame out); ``plot_calibration`` draws it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from forecaster.errors import InputError
from forecaster.report.accuracy import model_rank
from forecaster.report.plots import save_figure

VOLATILITY_DAYS = 30
MIN_RETURNS = 20
REGIMES = ("calm", "normal", "stormy")
ALL = "all"
CALIBRATION_COLUMNS = [
    "model",
    "horizon",
    "regime",
    "volatility_from",
    "volatility_to",
    "days",
    "n",
    "coverage",
    "interval_level",
    "mean_interval_score",
]


def trailing_volatility(
    candles: pd.DataFrame, days: Iterable[date], *, window: int = VOLATILITY_DAYS, min_returns: int = MIN_RETURNS
) -> pd.Series:
    """Per day of ``days``, the standard deviation (ddof 1) of the daily log returns of the ``window`` days
    ending at it (``candles``: ts, close); a return needs the candles of its day and the day before; NaN
    with fewer than ``min_returns`` of them. Indexed by the days, in the order given."""
    wanted = pd.DatetimeIndex(pd.to_datetime(list(days)))
    if candles.empty or wanted.empty:
        return pd.Series(np.nan, index=wanted.date, dtype=float, name="volatility")
    stamps = pd.to_datetime(candles["ts"], utc=True).dt.tz_convert(None).dt.normalize()
    closes = pd.Series(candles["close"].to_numpy(dtype=float), index=stamps).groupby(level=0).last()
    calendar = pd.date_range(min(closes.index.min(), wanted.min()), max(closes.index.max(), wanted.max()), freq="D")
    returns = np.log(closes.reindex(calendar)).diff()  # NaN beside every missing day: consecutive days only
    volatility = returns.rolling(window, min_periods=min_returns).std(ddof=1)
    return pd.Series(volatility.reindex(wanted).to_numpy(), index=wanted.date, name="volatility")


def tercile_cuts(volatility: pd.Series) -> tuple[float, float]:
    """The 1/3 and 2/3 quantiles of the known volatilities (linear interpolation); NaN with fewer than 3."""
    known = volatility.dropna().to_numpy(dtype=float)
    if len(known) < len(REGIMES):
        return float("nan"), float("nan")
    low, high = np.quantile(known, [1 / 3, 2 / 3])
    return float(low), float(high)


def regimes(volatility: pd.Series, cuts: tuple[float, float]) -> pd.Series:
    """``calm`` up to the first cut, ``normal`` up to the second, ``stormy`` above; missing where unknown."""
    low, high = cuts
    labels = np.select([volatility <= low, volatility <= high, volatility > high], list(REGIMES), default="")
    return pd.Series(labels, index=volatility.index, dtype=object).where(labels != "")


def calibration_table(
    scores: pd.DataFrame, candles: pd.DataFrame, *, window: int = VOLATILITY_DAYS, min_returns: int = MIN_RETURNS
) -> pd.DataFrame:
    """Coverage of the intervals per model, horizon and volatility regime: ``CALIBRATION_COLUMNS``.

    ``scores`` are rows of ``forecast_scores`` (model, horizon, as_of_date, inside_interval,
    interval_level, interval_score), ``candles`` the series' candles from ``window`` days before the
    first as-of day. The terciles cut the distinct as-of days of ``scores``. Per model and horizon
    found in ``scores``, one row per regime (``calm``, ``normal``, ``stormy``) and one for ``all`` as-of
    days (unclassified days included): ``volatility_from``..``volatility_to`` the regime's volatility
    range (the cut points; ``all``: the range of every classified day), ``days`` its as-of days, ``n``
    the scored forecasts, ``coverage`` the share of actuals inside the interval (of those with one),
    ``interval_level`` the mean nominal level, ``mean_interval_score`` the mean Winkler score (price).
    """
    if scores.empty:
        return pd.DataFrame(columns=CALIBRATION_COLUMNS)
    days = sorted(set(pd.to_datetime(scores["as_of_date"]).dt.date))
    volatility = trailing_volatility(candles, days, window=window, min_returns=min_returns)
    cuts = tercile_cuts(volatility)
    regime_of = regimes(volatility, cuts)
    known = volatility.dropna()
    bounds = {
        "calm": (known.min(), cuts[0]),
        "normal": (cuts[0], cuts[1]),
        "stormy": (cuts[1], known.max()),
        ALL: (known.min(), known.max()),
    }
    day_counts = regime_of.value_counts().to_dict() | {ALL: len(days)}
    rows = scores.assign(regime=pd.to_datetime(scores["as_of_date"]).dt.date.map(regime_of))
    out = []
    models = sorted(set(rows["model"]), key=lambda name: (model_rank(name), name))
    for model in models:
        ours = rows[rows["model"] == model]
        for horizon in sorted(set(ours["horizon"])):
            at = ours[ours["horizon"] == horizon]
            for regime in (*REGIMES, ALL):
                group = at if regime == ALL else at[at["regime"] == regime]
                out.append(
                    {
                        "model": model,
                        "horizon": int(horizon),
                        "regime": regime,
                        "volatility_from": float(bounds[regime][0]),
                        "volatility_to": float(bounds[regime][1]),
                        "days": int(day_counts.get(regime, 0)),
                        **_figures(group),
                    }
                )
    return pd.DataFrame(out, columns=CALIBRATION_COLUMNS)


def _figures(group: pd.DataFrame) -> dict[str, float | int]:
    inside = group["inside_interval"].dropna().astype(float)
    return {
        "n": len(group),
        "coverage": float(inside.mean()) if len(inside) else float("nan"),
        "interval_level": float(group["interval_level"].astype(float).mean()) if len(group) else float("nan"),
        "mean_interval_score": float(group["interval_score"].astype(float).mean()) if len(group) else float("nan"),
    }


def cut_points(table: pd.DataFrame) -> tuple[float, float]:
    """The two cut points of ``calibration_table``'s terciles (NaN when none could be cut)."""
    ends = table.drop_duplicates("regime").set_index("regime")["volatility_to"]
    return float(ends.get("calm", np.nan)), float(ends.get("normal", np.nan))


def coverage_table(table: pd.DataFrame) -> pd.DataFrame:
    """The compact view of ``calibration_table``: per model and horizon, the nominal level and the coverage
    over all as-of days and in each tercile (fractions)."""
    if table.empty:
        return pd.DataFrame(columns=["model", "horizon", "nominal", ALL, *REGIMES])
    wide = table.pivot(index=["model", "horizon"], columns="regime", values="coverage")
    nominal = table[table["regime"] == ALL].set_index(["model", "horizon"])["interval_level"].rename("nominal")
    order = table[["model", "horizon"]].drop_duplicates()
    compact = order.join(pd.concat([nominal, wide[[ALL, *REGIMES]]], axis=1), on=["model", "horizon"])
    compact.columns.name = None
    return compact.reset_index(drop=True)


def calibration_scope(table: pd.DataFrame, *, window: int = VOLATILITY_DAYS, min_returns: int = MIN_RETURNS) -> str:
    """One sentence on how ``calibration_table`` (of this ``window`` and ``min_returns``) cut the as-of days."""
    if table.empty:
        return "No scored forecast to judge the intervals by."
    low, high = cut_points(table)
    days = table.drop_duplicates("regime").set_index("regime")["days"]
    unclassified = int(days[ALL] - sum(days.get(regime, 0) for regime in REGIMES))
    if np.isnan(low):
        return (
            f"Interval coverage per horizon over {days[ALL]} as-of days; too few of them have a trailing "
            f"{window}-day volatility to cut into terciles."
        )
    sentence = (
        f"Interval coverage per horizon, overall and by the as-of day's trailing {window}-day volatility "
        f"(sd of daily log returns): calm <= {low:.2%} < normal <= {high:.2%} < stormy "
        f"({', '.join(f'{int(days.get(regime, 0))} {regime}' for regime in REGIMES)} as-of days"
    )
    if unclassified:
        sentence += f"; {unclassified} without {min_returns} returns in the window, counted in 'all' only"
    return sentence + ")."


def calibration_markdown(table: pd.DataFrame, *, window: int = VOLATILITY_DAYS, min_returns: int = MIN_RETURNS) -> str:
    """``calibration_scope`` and ``coverage_table`` in percent, as markdown (for a Prefect artifact)."""
    from forecaster.report.markdown import markdown_table

    compact = coverage_table(table)
    if compact.empty:
        return calibration_scope(table, window=window, min_returns=min_returns)
    numbers = ["nominal", ALL, *REGIMES]
    shown = compact.astype(dict.fromkeys(numbers, object))
    shown[numbers] = compact[numbers].map(lambda value: "" if pd.isna(value) else f"{100 * value:.1f}%")
    return f"{calibration_scope(table, window=window, min_returns=min_returns)}\n\n{markdown_table(shown)}"


def plot_calibration(table: pd.DataFrame, out: Path, *, title: str) -> Path:
    """Coverage against horizon per model, the nominal level as a dashed line: a panel over all as-of days
    and a smaller one per volatility tercile.

    Raises:
        InputError: ``table`` is empty (nothing scored).
    """
    if table.empty:
        raise InputError("nothing to plot: no scored forecast to measure the intervals' coverage by")
    low, high = cut_points(table)
    days = table.drop_duplicates("regime").set_index("regime")["days"]
    ranges = {"calm": f"vol ≤ {low:.2%}", "normal": f"{low:.2%} < vol ≤ {high:.2%}", "stormy": f"vol > {high:.2%}"}
    models = list(dict.fromkeys(table["model"]))
    colors = {model: f"C{number}" for number, model in enumerate(models)}
    fig = Figure(figsize=(13, 5), layout="constrained")
    axes = fig.subplots(1, 4, sharex=True, sharey=True, width_ratios=[1.5, 1, 1, 1])
    for ax, regime in zip(axes, (ALL, *REGIMES), strict=True):
        if regime == ALL:
            heading = f"all {int(days[ALL])} as-of days"
        else:
            heading = f"{regime}: {int(days.get(regime, 0))} days\n{ranges[regime] if not np.isnan(low) else 'not cut'}"
        _panel(ax, table[table["regime"] == regime], colors, heading)
    coverage = table["coverage"].to_numpy(dtype=float)
    lowest = float(np.nanmin(coverage, initial=1.0))
    highest = float(np.nanmax(coverage, initial=0.0))
    levels = _levels(table)
    axes[0].set_ylim(max(-0.02, min(lowest, *levels) - 0.06), min(1.02, max(highest, *levels) + 0.06))
    axes[0].set_ylabel("coverage (share of actuals inside the interval)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 6), frameon=False)
    fig.suptitle(
        f"{title}\nvol: the as-of day's trailing {VOLATILITY_DAYS}-day volatility (sd of daily log returns), "
        "cut into terciles"
    )
    return save_figure(fig, out)


def _levels(table: pd.DataFrame) -> list[float]:
    return sorted({round(float(level), 6) for level in table["interval_level"].dropna()})


def _panel(ax: Axes, rows: pd.DataFrame, colors: dict[str, str], heading: str) -> None:
    """One panel: a line per model, and a dashed one per nominal level (naming its models where levels differ)."""
    for model, color in colors.items():
        line = rows[rows["model"] == model].sort_values("horizon")
        if not line.empty:
            ax.plot(
                line["horizon"], line["coverage"], color=color, marker="o", markersize=4, linewidth=1.4, label=model
            )
    levels = _levels(rows)
    for level, style in zip(levels, ["--", ":", "-."] * len(levels), strict=False):
        label = f"nominal {level:.0%}"
        if len(levels) > 1:
            users = rows.loc[(rows["interval_level"].astype(float) - level).abs() < 1e-6, "model"].unique()
            label += f" ({', '.join(users)})"
        ax.axhline(level, color="dimgray", linestyle=style, linewidth=1.1, label=label)
    if rows["coverage"].isna().all():
        ax.text(0.5, 0.5, "nothing to count", transform=ax.transAxes, ha="center", va="center", color="dimgray")
    ax.set_title(heading, fontsize=10)
    ax.set_xlabel("horizon (days)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(True, alpha=0.3)
