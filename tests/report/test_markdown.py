"""The markdown summary: one plain sentence on how the model fares against naive, then the tables."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from forecaster.report.accuracy import rolling_accuracy
from forecaster.report.markdown import accuracy_markdown, window_markdown
from forecaster.series import SeriesKey
from tests.support.replay import FILL_JOB
from tests.support.replay import FILLED_KEY as KEY

EMPTY = SeriesKey("binance", "ETH/USDT", "1d")
HORIZON = FILL_JOB.model.horizon


def test_accuracy_markdown_names_every_model_and_the_ratio(filled):
    with filled.sessions() as session:
        table = rolling_accuracy(session, [KEY], windows=[30])
        markdown = accuracy_markdown(session, [KEY, EMPTY], min_n=5)
    end = filled.as_of.date() + timedelta(days=HORIZON)  # the newest scored target
    assert set(table["window_end"]) == {end}
    assert f"#### Last 30 days: targets {end - timedelta(days=29):%Y-%m-%d}..{end:%Y-%m-%d}" in markdown
    ratio = table[(table["model"] == "bilstm_gru") & (table["horizon"] == 1)]["mae_vs_naive"].iloc[0]
    verdict = "level with naive" if round(ratio, 2) == 1 else "it loses to naive" if ratio > 1 else "it beats naive"
    assert f"bilstm_gru MAE is {ratio:.2f}x naive's over the last 30 days at horizon 1" in markdown
    assert verdict in markdown
    for model in ("bilstm_gru", "naive", "drift", "moving_average", "garch"):
        assert f"| {model} | 1 |" in markdown and f"| {model} | mean 1–3 |" in markdown
    assert "### BTC/USDT on binance (1d)" in markdown and "#### Last 90 days" in markdown
    assert "| coverage | pinball vs naive |" in markdown
    assert markdown.count("Nothing scored yet in the last") == 2  # ETH: both windows


def table_of(ratio: float, *, naive: bool = True, n: int = 30) -> pd.DataFrame:
    rows = [("bilstm_gru", h, n, 100.0 * ratio, ratio, 0.5, 0.8, 0.86 + 0.04 * h) for h in (1, 2)]
    if naive:
        rows += [("naive", h, n, 100.0, 1.0, np.nan, 0.8, 1.0) for h in (1, 2)]
    columns = [
        "model",
        "horizon",
        "n",
        "mae",
        "mae_vs_naive",
        "direction_accuracy",
        "coverage",
        "pinball_loss_vs_naive",
    ]
    return pd.DataFrame(rows, columns=columns)


@pytest.mark.parametrize(
    ("ratio", "verdict"),
    [
        (
            1.234,
            "**bilstm_gru MAE is 1.23x naive's over the last 30 days at horizon 1 (1.23x on average over "
            "horizons 1–2): it loses to naive.**",
        ),
        (
            0.8,
            "bilstm_gru MAE is 0.80x naive's over the last 30 days at horizon 1 (0.80x on average over "
            "horizons 1–2): it beats naive.",
        ),
        (1.004, "1.00x naive's over the last 30 days at horizon 1 (1.00x on average over horizons 1–2): level with"),
    ],
)
def test_window_markdown_says_plainly_how_the_model_fares(ratio, verdict):
    text = window_markdown(table_of(ratio), 30)
    assert verdict in text
    assert "| bilstm_gru | 1 | 30 | " + f"{100 * ratio:,.2f} | {ratio:.2f}x | 50% | 80% | 0.90x |" in text
    assert "| bilstm_gru | mean 1–2 | 60 | " in text and "| 50% | 80% | 0.92x |" in text  # (0.90 + 0.94) / 2
    assert "| naive | mean 1–2 | 60 | 100.00 | 1.00x | – | 80% | 1.00x |" in text


def test_window_markdown_gives_no_verdict_on_too_few_forecasts():
    text = window_markdown(table_of(1.5, n=5), 30)
    assert "n = 5: too few scored bilstm_gru forecasts at horizon 1 to judge (at least 20)." in text
    assert "loses" not in text and "beats" not in text
    assert "| bilstm_gru | 1 | 5 | 150.00 | – | – | – | – |" in text  # no ratio, direction or coverage on n = 5


def test_window_markdown_without_the_model_or_anything():
    assert window_markdown(table_of(1.0).iloc[:0], 90) == "Nothing scored yet in the last 90 days."
    baselines = table_of(1.0).query("model == 'naive'")
    assert "No bilstm_gru forecast scored in the last 30 days (baselines only)." in window_markdown(baselines, 30)
