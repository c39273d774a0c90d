"""Charts (PNG files written atomically) and the ``report`` command that draws and summarises."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from forecaster.cli.report import register
from forecaster.errors import InputError
from forecaster.report.paths import report_path
from forecaster.report.plots import plot_forecasts, plot_losses, plot_rolling_mae
from forecaster.series import SeriesKey
from tests.support.replay import FILL_JOB
from tests.support.replay import FILLED_KEY as KEY

EMPTY = SeriesKey("binance", "ETH/USDT", "1d")
PNG = b"\x89PNG\r\n\x1a\n"
HORIZON = FILL_JOB.model.horizon


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 15_000
    assert not list(path.parent.glob(f".{path.name}.*.tmp"))  # the temporary file is gone


def test_plot_forecasts_writes_a_png(filled, tmp_path):
    with filled.sessions() as session:
        path = plot_forecasts(session, KEY, tmp_path / "deep" / "btc.png", days=60)
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
    job = tmp_path / "job.yaml"
    job.write_text("gate: {min_pairs: 5}\n")  # the verdict needs the gate's minimum of scored forecasts
    result = CliRunner().invoke(
        app,
        ["report", "--symbol", "BTC/USDT", "--exchange", "binance", "--job", str(job), "--database-url", filled.url],
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
