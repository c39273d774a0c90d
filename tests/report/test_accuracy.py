"""Reports over a real database filled by the job's own steps: accuracy table, markdown, charts, the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from forecaster.cli.report import register
from forecaster.db.engine import make_engine, session_factory
from forecaster.db.migrate import upgrade
from forecaster.db.models import Forecast, ForecastEvaluation
from forecaster.errors import InputError
from forecaster.model.artifact import TrainedModel
from forecaster.pipeline.evaluate import evaluate_step
from forecaster.pipeline.forecast import forecast_step
from forecaster.pipeline.train import train_step
from forecaster.registry.versions import latest_version, load_version
from forecaster.report.accuracy import accuracy_table, newest_scored
from forecaster.report.markdown import accuracy_markdown, window_markdown
from forecaster.report.paths import report_path
from forecaster.report.plots import plot_forecasts, plot_losses, plot_rolling_mae
from forecaster.series import SeriesKey
from tests.support.candles import store_candles
from tests.support.postgres import truncate_all
from tests.support.tiny import TINY_JOB, TINY_MODEL

KEY = SeriesKey("binance", "BTC/USDT", "1d")
EMPTY = SeriesKey("binance", "ETH/USDT", "1d")
PNG = b"\x89PNG\r\n\x1a\n"
HORIZON = TINY_MODEL.horizon


@dataclass(frozen=True)
class Filled:
    url: str
    sessions: sessionmaker[Session]
    as_of: datetime  # the newest forecast day
    model: TrainedModel


def fill(sessions: sessionmaker[Session], btc: pd.DataFrame, checkpoints: Path) -> tuple[datetime, TrainedModel]:
    """Twelve daily runs as the job does them: score what matured, then forecast; one tiny model.

    Returns the newest forecast day and the model.
    """
    # without shrinkage toward naive, the model calls a direction on every day
    config = TINY_JOB.model_copy(update={"model": TINY_MODEL.model_copy(update={"shrink": False})})
    history = btc[(btc["ts"] >= "2024-01-01") & (btc["ts"] <= "2024-07-31")].reset_index(drop=True)
    store_candles(sessions, KEY, history)
    days = [day.to_pydatetime() for day in history["ts"].iloc[-15:-HORIZON]]
    train_step(sessions, KEY, days[0], "full", config, checkpoints)
    for day in days:
        evaluate_step(sessions, KEY)
        forecast_step(sessions, KEY, day, config)
    evaluate_step(sessions, KEY)
    with sessions() as session:
        version = latest_version(session, KEY, "live")
    assert version is not None
    return days[-1], load_version(version)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, btc) -> Iterator[Filled]:
    """One filled database per backend for the whole module (training is the slow part)."""
    folder = tmp_path_factory.mktemp(f"report-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'forecaster.db'}"
        engine = make_engine(url)
        upgrade(engine)
    else:
        url = request.getfixturevalue("postgres_url")
        engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        as_of, model = fill(sessions, btc, folder / "checkpoints")
        yield Filled(url, sessions, as_of, model)
    finally:
        engine.dispose()
        if request.param == "postgresql":
            truncate_all(url)


def scored(sessions: sessionmaker[Session]) -> pd.DataFrame:
    with sessions() as session:
        rows = session.execute(
            select(
                Forecast.model,
                Forecast.horizon,
                Forecast.as_of,
                Forecast.target_ts,
                Forecast.yhat,
                ForecastEvaluation.actual,
                ForecastEvaluation.inside_interval,
                ForecastEvaluation.direction_hit,
            ).join(ForecastEvaluation)
        ).all()
    return pd.DataFrame(rows, columns=[column for column in rows[0]._fields])


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 15_000
    assert not list(path.parent.glob(f".{path.name}.*.tmp"))  # the temporary file is gone


def test_accuracy_table_matches_hand_computed_values(filled):
    rows = scored(filled.sessions)
    with filled.sessions() as session:
        table = accuracy_table(session, key=KEY)
        assert accuracy_table(session, key=KEY, run_kind="backtest").empty
        assert accuracy_table(session, key=EMPTY).empty

    assert len(table) == 4 * HORIZON and table["model"].iloc[0] == "bilstm_gru"
    naive = rows[rows["model"] == "naive"]
    for (model, horizon), group in rows.groupby(["model", "horizon"]):
        got = table[(table["model"] == model) & (table["horizon"] == horizon)].iloc[0]
        error = group["actual"] - group["yhat"]
        pairs = group.merge(naive[naive["horizon"] == horizon], on="as_of", suffixes=("", "_naive"))
        inside = group["inside_interval"].dropna().astype(float)
        assert got["n"] == len(group) == 12
        assert got["mae"] == pytest.approx(error.abs().mean())
        assert got["rmse"] == pytest.approx(np.sqrt((error**2).mean()))
        assert got["mape"] == pytest.approx(100 * (error.abs() / group["actual"]).mean())
        assert got["mae_vs_naive"] == pytest.approx(
            (pairs["actual"] - pairs["yhat"]).abs().mean() / (pairs["actual"] - pairs["yhat_naive"]).abs().mean()
        )
        assert got["coverage"] == pytest.approx(inside.mean())
    assert (table.loc[table["model"] == "naive", "mae_vs_naive"] == 1.0).all()
    assert table.loc[table["model"] == "naive", "direction_accuracy"].isna().all()  # naive calls no direction
    ours = table[table["model"] == "bilstm_gru"]
    assert ours["direction_accuracy"].between(0, 1).all() and ours["coverage"].between(0, 1).all()


def test_accuracy_table_window_is_open_below_and_closed_above(filled):
    targets = sorted(scored(filled.sessions)["target_ts"].unique())
    since, until = targets[2], targets[6]
    with filled.sessions() as session:
        table = accuracy_table(session, key=KEY, since=since, until=until)
    rows = scored(filled.sessions)
    inside = rows[(rows["target_ts"] > since) & (rows["target_ts"] <= until)]
    expected = inside.groupby(["model", "horizon"]).size()
    got = table.set_index(["model", "horizon"])["n"]
    assert got.sort_index().to_dict() == expected.sort_index().to_dict()


def test_accuracy_markdown_names_every_model_and_the_ratio(filled):
    with filled.sessions() as session:
        table = accuracy_table(session, key=KEY, since=filled.as_of - timedelta(days=30), until=filled.as_of)
        markdown = accuracy_markdown(session, [KEY, EMPTY], filled.as_of)
    ratio = table[(table["model"] == "bilstm_gru") & (table["horizon"] == 1)]["mae_vs_naive"].iloc[0]
    verdict = "level with naive" if round(ratio, 2) == 1 else "it loses to naive" if ratio > 1 else "it beats naive"
    assert f"bilstm_gru MAE is {ratio:.2f}x naive's over the last 30 days at horizon 1" in markdown
    assert verdict in markdown
    for model in ("bilstm_gru", "naive", "drift", "moving_average"):
        assert f"| {model} | 1 |" in markdown and f"| {model} | mean 1–3 |" in markdown
    assert "### BTC/USDT on binance (1d)" in markdown and "#### Last 90 days" in markdown
    assert markdown.count("Nothing scored yet in the last") == 2  # ETH: both windows


def test_plot_forecasts_writes_a_png(filled, tmp_path):
    with filled.sessions() as session:
        path = plot_forecasts(session, KEY, tmp_path / "deep" / "btc.png", days=60)
        assert newest_scored(session, KEY) == filled.as_of + timedelta(days=HORIZON)
    assert path == tmp_path / "deep" / "btc.png"
    assert_png(path)


def test_nothing_to_plot_is_an_input_error(filled, tmp_path):
    with filled.sessions() as session, pytest.raises(InputError, match="no live bilstm_gru forecast of binance ETH"):
        plot_forecasts(session, EMPTY, tmp_path / "eth.png")
    with filled.sessions() as session, pytest.raises(InputError, match="no backtest bilstm_gru forecast"):
        plot_forecasts(session, KEY, tmp_path / "btc.png", run_kind="backtest")
    assert not (tmp_path / "eth.png").exists() and not (tmp_path / "btc.png").exists()


def test_plot_losses_writes_a_png(filled, tmp_path):
    assert len(filled.model.train_loss_history) >= 1
    assert_png(plot_losses(filled.model, tmp_path / "losses.png", title="BTC/USDT training"))


def test_report_command_draws_and_summarises(filled, tmp_path, monkeypatch):
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(tmp_path / "data"))
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # with two commands, typer keeps the command name
    result = CliRunner().invoke(
        app, ["report", "--symbol", "BTC/USDT", "--exchange", "binance", "--database-url", filled.url]
    )
    assert result.exit_code == 0, result.output
    expected = report_path(tmp_path / "data" / "reports", KEY)
    assert expected.name == "binance_BTC-USDT_1d.png"
    assert result.output.splitlines()[0] == str(expected)
    assert "bilstm_gru MAE is " in result.output
    assert_png(expected)


def errors_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    days = pd.date_range("2024-01-01", periods=120, freq="D", tz="UTC")
    naive = np.abs(rng.normal(0, 1000, len(days)))
    model = naive * rng.uniform(0.6, 1.4, len(days))
    return pd.concat(
        [
            pd.DataFrame({"target_ts": days, "model": "naive", "abs_error": naive}),
            pd.DataFrame({"target_ts": days, "model": "bilstm_gru", "abs_error": model}),
        ]
    )


def test_plot_rolling_mae_writes_a_png(tmp_path):
    assert_png(plot_rolling_mae(errors_frame(), tmp_path / "rolling.png", title="BTC/USDT backtest, horizon 1"))
    ours = errors_frame().query("model == 'bilstm_gru'")  # without naive: one panel, still drawn
    assert_png(plot_rolling_mae(ours, tmp_path / "alone.png", window=14, title="alone"))
    with pytest.raises(InputError, match="nothing to plot"):
        plot_rolling_mae(errors_frame().iloc[:0], tmp_path / "none.png", title="none")
    with pytest.raises(InputError, match="needs at least 15 scored days"):
        plot_rolling_mae(errors_frame().groupby("model").head(14), tmp_path / "none.png", title="none")
    assert not (tmp_path / "none.png").exists()
    with pytest.raises(ValueError, match="missing"):
        plot_rolling_mae(errors_frame().drop(columns="abs_error"), tmp_path / "none.png", title="none")


def table_of(ratio: float, *, naive: bool = True) -> pd.DataFrame:
    rows = [("bilstm_gru", h, 10, 100.0 * ratio, ratio, 0.5, 0.8) for h in (1, 2)]
    if naive:
        rows += [("naive", h, 10, 100.0, 1.0, np.nan, 0.8) for h in (1, 2)]
    return pd.DataFrame(
        rows, columns=["model", "horizon", "n", "mae", "mae_vs_naive", "direction_accuracy", "coverage"]
    )


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
    assert "| bilstm_gru | 1 | 10 | " + f"{100 * ratio:,.2f} | {ratio:.2f}x | 50% | 80% |" in text
    assert "| naive | mean 1–2 | 20 | 100.00 | 1.00x | – | 80% |" in text


def test_window_markdown_without_the_model_or_anything():
    assert window_markdown(table_of(1.0).iloc[:0], 90) == "Nothing scored yet in the last 90 days."
    baselines = table_of(1.0).query("model == 'naive'")
    assert "No bilstm_gru forecast scored in the last 30 days (baselines only)." in window_markdown(baselines, 30)
