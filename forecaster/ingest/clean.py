"""Pure functions that turn raw OHLCV rows into clean candles, and find what is missing.

Nothing here touches the network or the database: raw rows in, a clean frame and a report out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecaster.series import CANDLE_COLUMNS, PRICES
from forecaster.timeframes import is_aligned


@dataclass(frozen=True)
class Rejected:
    """A candle that was not stored, and why."""

    ts: str
    reason: str


@dataclass(frozen=True)
class Gap:
    """Consecutive missing candles: ``first`` to ``last`` open times, ``missing`` of them."""

    first: pd.Timestamp
    last: pd.Timestamp
    missing: int

    def as_dict(self) -> dict[str, object]:
        return {"first": self.first.isoformat(), "last": self.last.isoformat(), "missing": self.missing}

    def __str__(self) -> str:
        if self.missing == 1:
            return f"{self.first:%Y-%m-%d %H:%M}"
        return f"{self.first:%Y-%m-%d %H:%M}..{self.last:%Y-%m-%d %H:%M} ({self.missing})"


@dataclass(frozen=True)
class CleanCandles:
    """The candles fit to store, with what was dropped on the way."""

    frame: pd.DataFrame
    rejected: list[Rejected] = field(default_factory=list)
    duplicates: int = 0
    still_open: int = 0


def rows_to_frame(rows: Sequence[Sequence[float | int | str | None]]) -> pd.DataFrame:
    """ccxt OHLCV rows ``[ms, o, h, l, c, v]`` to a frame; unparsable numbers become NaN."""
    frame = pd.DataFrame([list(row)[:6] for row in rows], columns=CANDLE_COLUMNS)
    for column in CANDLE_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def clean_candles(raw: pd.DataFrame, step_ms: int, now_ms: int) -> CleanCandles:
    """Validate, deduplicate and sort raw candles whose ``ts`` is in epoch milliseconds.

    A candle is kept only when it is closed (``ts + step <= now``), aligned to the timeframe, has
    finite positive prices with ``low <= open, close <= high`` and a finite volume >= 0. Exact
    repeats of a candle are stored once; two different candles for one open time are both refused.
    """
    frame = raw.loc[:, CANDLE_COLUMNS].copy()
    rejected: list[Rejected] = []

    bad_ts = frame["ts"].isna()
    rejected += [Rejected("?", "missing open time") for _ in range(int(bad_ts.sum()))]
    frame = frame.loc[~bad_ts]
    frame["ts"] = frame["ts"].astype("int64")

    open_mask = frame["ts"] + step_ms > now_ms
    still_open = int(open_mask.sum())
    frame = frame.loc[~open_mask]

    before = len(frame)
    frame = frame.drop_duplicates()
    duplicates = before - len(frame)
    conflicting = frame["ts"].duplicated(keep=False)
    for ts in frame.loc[conflicting, "ts"].unique():
        rejected.append(Rejected(_iso(int(ts)), "two different candles for the same open time"))
    frame = frame.loc[~conflicting]

    reasons = _invalid_reasons(frame, step_ms)
    for ts, reason in zip(frame.loc[reasons != "", "ts"], reasons[reasons != ""], strict=True):
        rejected.append(Rejected(_iso(int(ts)), reason))
    frame = frame.loc[reasons == ""].sort_values("ts")

    frame["ts"] = pd.to_datetime(frame["ts"], unit="ms", utc=True)
    return CleanCandles(frame.reset_index(drop=True), rejected, duplicates, still_open)


def _invalid_reasons(frame: pd.DataFrame, step_ms: int) -> pd.Series:
    """One reason per row ("" when the candle is valid), first failing check wins."""
    prices = frame[PRICES].to_numpy(dtype=float)
    volume = frame["volume"].to_numpy(dtype=float)
    checks = [
        (~is_aligned(frame["ts"], step_ms).to_numpy(), "open time not aligned to the timeframe"),
        (~np.isfinite(prices).all(axis=1), "price is missing or not a number"),
        ((prices <= 0).any(axis=1), "price is not positive"),
        (frame["high"].to_numpy() < frame["low"].to_numpy(), "high below low"),
        (
            frame["low"].to_numpy() > frame[["open", "close"]].min(axis=1).to_numpy(),
            "low above open or close",
        ),
        (
            frame["high"].to_numpy() < frame[["open", "close"]].max(axis=1).to_numpy(),
            "high below open or close",
        ),
        (~np.isfinite(volume) | (volume < 0), "volume is missing or negative"),
    ]
    reasons = pd.Series("", index=frame.index, dtype=object)
    for failed, reason in reversed(checks):
        reasons[failed] = reason
    return reasons


def find_gaps(ts: pd.Series, step: pd.Timedelta, previous: pd.Timestamp | None = None) -> list[Gap]:
    """Missing candles between consecutive open times (and after ``previous``, the last one stored)."""
    times = pd.Series(ts).sort_values()
    if previous is not None:
        times = pd.concat([pd.Series([previous]), times[times > previous]], ignore_index=True)
    if len(times) < 2:
        return []
    starts = times.iloc[:-1].reset_index(drop=True)
    deltas = times.diff().iloc[1:].reset_index(drop=True)
    gaps = []
    for start, delta in zip(starts[deltas > step], deltas[deltas > step], strict=True):
        missing = int(delta / step) - 1
        gaps.append(Gap(start + step, start + step * missing, missing))
    return gaps


def _iso(ts_ms: int) -> str:
    return pd.Timestamp(ts_ms, unit="ms", tz="UTC").isoformat()
