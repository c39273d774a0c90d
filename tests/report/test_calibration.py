"""The intervals' calibration: trailing volatility, terciles of the as-of days, coverage counts, the PNG."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster.errors import InputError
from forecaster.report.calibration import (
    CALIBRATION_COLUMNS,
    calibration_markdown,
    calibration_scope,
    calibration_table,
    coverage_table,
    cut_points,
    plot_calibration,
    regimes,
    tercile_cuts,
    trailing_volatility,
)

PNG = b"\x89PNG\r\n\x1a\n"
FIRST = date(2024, 1, 1)
# As-of day -> its log return x (the day before returns 0): with a 2-day window the volatility is x / sqrt(2).
RETURNS = {3: 0.01, 5: 0.03, 7: 0.02, 9: 0.06, 11: 0.05, 13: 0.04}
UNCLASSIFIED = 15  # the candle of the 14th is missing: no return on the 14th nor the 15th
# bilstm_gru at horizon 1, per as-of day: inside the interval?, interval score
OURS = {3: (True, 10.0), 7: (True, 20.0), 5: (True, 30.0), 13: (False, 40.0), 9: (False, 50.0), 11: (False, 60.0)}
OURS[UNCLASSIFIED] = (True, 70.0)


def day(number: int) -> date:
    return FIRST + timedelta(days=number - 1)


def hand_candles() -> pd.DataFrame:
    """Closes from 100 with the log returns of ``RETURNS`` (0 on every other day), the 14th missing."""
    numbers = range(1, 17)
    logs = np.cumsum([RETURNS.get(number, 0.0) for number in numbers])  # the 1st has no return: 0
    frame = pd.DataFrame({"ts": pd.to_datetime([day(n) for n in numbers], utc=True), "close": 100 * np.exp(logs)})
    return frame[frame["ts"].dt.day != 14].reset_index(drop=True)


def hand_scores() -> pd.DataFrame:
    rows = [
        {"model": "bilstm_gru", "horizon": 1, "as_of_date": day(n), "inside_interval": inside, "interval_score": score}
        for n, (inside, score) in OURS.items()
    ]
    rows += [  # bilstm_gru at horizon 2 only on calm and normal days
        {"model": "bilstm_gru", "horizon": 2, "as_of_date": day(n), "inside_interval": True, "interval_score": 5.0}
        for n in (3, 5, 7)
    ]
    rows += [  # a model the report knows nothing about: read from the data
        {"model": "garch", "horizon": 1, "as_of_date": day(n), "inside_interval": n > 6, "interval_score": 1.0}
        for n in RETURNS
    ]
    rows += [  # naive without an interval one day: counted in n, not in coverage
        {"model": "naive", "horizon": 1, "as_of_date": day(n), "inside_interval": None if n == 3 else True,
         "interval_score": None if n == 3 else 2.0}
        for n in RETURNS
    ]  # fmt: skip
    return pd.DataFrame(rows).assign(interval_level=0.8)


def test_trailing_volatility_counts_returns_of_consecutive_days_only():
    rng = np.random.default_rng(3)
    days = pd.date_range("2024-01-01", periods=80, freq="D", tz="UTC")
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, len(days))))
    candles = pd.DataFrame({"ts": days, "close": closes}).drop(index=49)  # day 50 missing
    got = trailing_volatility(candles, [d.date() for d in days[[19, 20, 44, 59]]] + [date(2023, 6, 1)])

    def by_hand(last: int) -> float:  # day numbers 1..80; a return of day t needs days t-1 and t
        returns = [np.log(closes[t - 1] / closes[t - 2]) for t in range(last - 29, last + 1) if t >= 2]
        returns = [r for t, r in zip(range(max(2, last - 29), last + 1), returns, strict=True) if t not in (50, 51)]
        return float(np.std(returns, ddof=1)) if len(returns) >= 20 else float("nan")

    assert np.isnan(got.iloc[0]) and np.isnan(by_hand(20))  # 19 returns so far: too few
    assert got.iloc[1] == pytest.approx(by_hand(21), rel=1e-12)  # 20 returns: enough
    assert got.iloc[2] == pytest.approx(by_hand(45), rel=1e-12)  # a full window
    assert got.iloc[3] == pytest.approx(by_hand(60), rel=1e-12)  # 28 returns: none across the missing day
    assert np.isnan(got.iloc[4])  # before the candles
    assert list(got.index) == [*(d.date() for d in days[[19, 20, 44, 59]]), date(2023, 6, 1)]


def test_terciles_cut_at_the_third_quantiles():
    volatility = pd.Series([5.0, 1.0, 9.0, np.nan, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0])
    low, high = tercile_cuts(volatility)
    assert (low, high) == pytest.approx((3 + 2 / 3, 6 + 1 / 3))  # 1..9: positions 2.67 and 5.33
    labels = regimes(volatility, (low, high))
    assert labels.value_counts().to_dict() == {"calm": 3, "normal": 3, "stormy": 3}
    assert labels[1] == "calm" and labels[0] == "normal" and labels[2] == "stormy" and pd.isna(labels[3])
    assert np.isnan(tercile_cuts(pd.Series([1.0, np.nan, 2.0]))[0])  # fewer than 3 days: no terciles


def test_calibration_table_on_a_hand_made_set():
    table = calibration_table(hand_scores(), hand_candles(), window=2, min_returns=2)
    assert list(table.columns) == CALIBRATION_COLUMNS
    assert list(dict.fromkeys(table["model"])) == ["bilstm_gru", "naive", "garch"]  # ours, baselines, the rest
    low, high = cut_points(table)
    root2 = np.sqrt(2)
    assert (low, high) == pytest.approx(((0.02 + 0.01 * 2 / 3) / root2, (0.04 + 0.01 / 3) / root2), rel=1e-9)

    ours = table[(table["model"] == "bilstm_gru") & (table["horizon"] == 1)].set_index("regime")
    assert list(ours.index) == ["calm", "normal", "stormy", "all"]
    assert ours["days"].to_dict() == {"calm": 2, "normal": 2, "stormy": 2, "all": 7}
    assert ours["n"].to_dict() == {"calm": 2, "normal": 2, "stormy": 2, "all": 7}  # the 15th: in 'all' only
    assert ours["coverage"].to_dict() == pytest.approx({"calm": 1.0, "normal": 0.5, "stormy": 0.0, "all": 4 / 7})
    assert ours["mean_interval_score"].to_dict() == pytest.approx(
        {"calm": 15.0, "normal": 35.0, "stormy": 55.0, "all": 40.0}
    )
    assert ours.loc["calm", "volatility_from"] == pytest.approx(0.01 / root2)
    assert ours.loc["stormy", "volatility_to"] == pytest.approx(0.06 / root2)
    assert (ours.loc["normal", "volatility_from"], ours.loc["normal", "volatility_to"]) == pytest.approx((low, high))

    second = table[(table["model"] == "bilstm_gru") & (table["horizon"] == 2)].set_index("regime")
    assert second["n"].to_dict() == {"calm": 2, "normal": 1, "stormy": 0, "all": 3}
    assert np.isnan(second.loc["stormy", "coverage"])  # nothing to count
    naive = table[table["model"] == "naive"].set_index("regime")
    assert naive.loc["calm", "n"] == 2 and naive.loc["calm", "coverage"] == 1.0  # the day without an interval
    garch = table[table["model"] == "garch"].set_index("regime")
    assert garch["coverage"].to_dict() == pytest.approx({"calm": 0.5, "normal": 0.5, "stormy": 1.0, "all": 4 / 6})
    assert table["interval_level"].dropna().to_numpy() == pytest.approx(0.8) and np.isnan(
        second.loc["stormy", "interval_level"]
    )


def test_the_compact_views_of_the_table():
    table = calibration_table(hand_scores(), hand_candles(), window=2, min_returns=2)
    compact = coverage_table(table)
    assert list(compact.columns) == ["model", "horizon", "nominal", "all", "calm", "normal", "stormy"]
    assert [tuple(row) for row in compact[["model", "horizon"]].itertuples(index=False)] == [
        ("bilstm_gru", 1),
        ("bilstm_gru", 2),
        ("naive", 1),
        ("garch", 1),
    ]
    assert compact.iloc[0, 2:].tolist() == pytest.approx([0.8, 4 / 7, 1.0, 0.5, 0.0])
    scope = calibration_scope(table, window=2, min_returns=2)
    low, high = cut_points(table)
    assert f"calm <= {low:.2%} < normal <= {high:.2%} < stormy" in scope
    assert "(2 calm, 2 normal, 2 stormy as-of days; 1 without 2 returns in the window" in scope
    markdown = calibration_markdown(table, window=2, min_returns=2)
    assert markdown.startswith(scope) and "| bilstm_gru | 1 | 80.0% | 57.1% | 100.0% | 50.0% | 0.0% |" in markdown
    assert "| bilstm_gru | 2 | 80.0% | 100.0% | 100.0% | 100.0% |  |" in markdown  # no stormy day at horizon 2

    empty = calibration_table(hand_scores().iloc[:0], hand_candles())
    assert empty.empty and list(empty.columns) == CALIBRATION_COLUMNS and coverage_table(empty).empty
    assert calibration_scope(empty) == "No scored forecast to judge the intervals by."


def test_plot_calibration_writes_a_png(tmp_path: Path):
    table = calibration_table(hand_scores(), hand_candles(), window=2, min_returns=2)
    path = plot_calibration(table, tmp_path / "calibration.png", title="hand-made")
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 15_000
    uncut = calibration_table(hand_scores(), hand_candles())  # 30-day windows: no day has 20 returns
    assert np.isnan(cut_points(uncut)[0]) and "too few of them" in calibration_scope(uncut)
    assert plot_calibration(uncut, tmp_path / "uncut.png", title="uncut").exists()
    with pytest.raises(InputError, match="nothing to plot"):
        plot_calibration(uncut.iloc[:0], tmp_path / "none.png", title="none")
    assert not (tmp_path / "none.png").exists()
