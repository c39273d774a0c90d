"""The newest forecast set of a series as a compact table: one row per horizon, prices at the series' tick."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forecaster.db.models import Forecast
from forecaster.ingest.store import load_candles
from forecaster.report.accuracy import NAIVE
from forecaster.results.forecasts import MODEL
from forecaster.series import SeriesKey, of_series

FORECAST_TABLE_COLUMNS = ["horizon", "target day", "model", "forecast", "interval", "naive", "gate"]


def newest_as_of(session: Session, key: SeriesKey, run_kind: str = "live") -> datetime | None:
    """The as-of day of the newest forecast set of ``key`` (None: nothing forecast yet)."""
    return session.scalar(
        select(func.max(Forecast.as_of)).where(of_series(Forecast, key), Forecast.run_kind == run_kind)
    )


def forecast_table(session: Session, key: SeriesKey, as_of: datetime, run_kind: str = "live") -> pd.DataFrame:
    """The forecast set of ``as_of``: per horizon the target day, the model's forecast and interval (or the
    best-placed baseline's, when the model has none that day), naive's, and the naive gate's verdict."""
    rows = session.execute(
        select(
            Forecast.model,
            Forecast.horizon,
            Forecast.target_ts,
            Forecast.yhat,
            Forecast.yhat_lower,
            Forecast.yhat_upper,
            Forecast.beats_naive,
            Forecast.gate_n,
        ).where(of_series(Forecast, key), Forecast.run_kind == run_kind, Forecast.as_of == as_of)
    ).all()
    frame = pd.DataFrame(rows, columns=["model", "horizon", "target_ts", "yhat", "lower", "upper", "beats", "gate_n"])
    if frame.empty:
        return pd.DataFrame(columns=FORECAST_TABLE_COLUMNS)
    decimals = price_decimals(load_candles(session, key, start=as_of, end=as_of)["close"])
    naive = frame[frame["model"] == NAIVE].set_index("horizon")["yhat"]
    shown = frame[frame["model"] == MODEL]
    if shown.empty:
        shown = frame[frame["model"] == NAIVE]
    out = []
    for row in shown.sort_values("horizon").itertuples(index=False):
        out.append(
            {
                "horizon": int(row.horizon),
                "target day": f"{pd.Timestamp(row.target_ts):%Y-%m-%d}",
                "model": row.model,
                "forecast": _price(row.yhat, decimals),
                "interval": _interval(row.lower, row.upper, decimals),
                "naive": _price(naive.get(row.horizon, float("nan")), decimals),
                "gate": _gate(row.beats, row.gate_n) if row.model == MODEL else "",
            }
        )
    return pd.DataFrame(out, columns=FORECAST_TABLE_COLUMNS)


def price_decimals(closes: pd.Series, most: int = 8) -> int:
    """Decimal places the series' prices are quoted with (its tick), read off the stored closes."""
    values = closes.dropna().to_numpy(dtype=float)
    for decimals in range(most + 1):
        if np.allclose(values, np.round(values, decimals), rtol=0.0, atol=10.0 ** -(most + 2)):
            return decimals
    return most


def _price(value: float, decimals: int) -> str:
    return "" if pd.isna(value) else f"{value:,.{decimals}f}"


def _interval(lower: float | None, upper: float | None, decimals: int) -> str:
    if lower is None or upper is None or pd.isna(lower) or pd.isna(upper):
        return ""
    return f"{_price(lower, decimals)} – {_price(upper, decimals)}"


def _gate(beats: bool | None, n: int | None) -> str:
    if beats is None or pd.isna(beats):
        return f"no verdict (n = {0 if n is None or pd.isna(n) else int(n)})"
    return "beats naive" if beats else "does not beat naive"
