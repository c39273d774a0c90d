"""``forecaster backtest`` prints and writes its report: the accuracy table and the intervals' calibration."""

from __future__ import annotations

import pandas as pd
import typer
import yaml
from typer.testing import CliRunner

from forecaster.cli.backtest import register
from forecaster.db.engine import make_engine, session_factory
from forecaster.db.migrate import upgrade
from forecaster.model.baselines import baseline_names
from tests.support.populate import BTC, candles_of, populate
from tests.support.tiny import TINY_JOB

MODELS = ("bilstm_gru", *baseline_names())  # every model of a forecast set


def test_backtest_prints_the_calibration_and_writes_its_files(btc, eth, tmp_path, monkeypatch):
    """A backtest whose days are all written already (no training): the command only reports."""
    url = f"sqlite:///{tmp_path / 'backtest.db'}"
    engine = make_engine(url)
    upgrade(engine)
    done = populate(url, session_factory(engine), {BTC: candles_of(btc, eth)[BTC]}, run_kind="backtest", stop=10)
    engine.dispose()
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(TINY_JOB.model_dump(mode="json")))
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(tmp_path / "data"))
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # with two commands, typer keeps the command name
    start, end = f"{done.days[0]:%Y-%m-%d}", f"{done.days[-1]:%Y-%m-%d}"
    args = ["backtest", "-e", "binance", "-s", "BTC/USDT", "--start", start, "--end", end, "--job", str(job)]
    result = CliRunner().invoke(app, [*args, "--database-url", url])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if line.split()[:3] == ["model", "horizon", "n"])
    assert "mean_interval_score" in header and "pinball" not in header  # the CSV has the pinball losses
    scope = next(line for line in lines if line.startswith("Interval coverage per horizon"))
    assert "calm <= " in scope and "(14 calm, 13 normal, 13 stormy as-of days)" in scope  # 40 as-of days
    assert next(line for line in lines if "stormy" in line and "nominal" in line).split() == [
        "model", "horizon", "nominal", "all", "calm", "normal", "stormy"
    ]  # fmt: skip
    assert any(line.split()[:3] == ["bilstm_gru", "1", "90.0%"] for line in lines)  # the stand-in's level

    stem = f"backtest_binance_BTC-USDT_1d_{done.days[0]:%Y%m%d}_{done.days[-1]:%Y%m%d}"
    folder = tmp_path / "data" / "reports"
    written = lines[-1].removeprefix("wrote ").split(", ")
    assert written == [
        str(folder / f"{stem}{suffix}")
        for suffix in (".csv", "_forecasts.png", "_rolling_mae.png", "_calibration.csv", "_calibration.png")
    ]
    assert "pinball_loss_vs_naive" in pd.read_csv(folder / f"{stem}.csv").columns
    calibration = pd.read_csv(folder / f"{stem}_calibration.csv")
    assert set(calibration["model"]) == set(MODELS)
