"""The walk-forward backtest: the daily job's steps replayed day by day, resumable, without look-ahead."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select, text

from forecaster.db.engine import make_engine, session_factory
from forecaster.db.migrate import upgrade
from forecaster.db.models import Forecast, ForecastEvaluation, ModelVersion
from forecaster.errors import InputError
from forecaster.pipeline.backtest import (
    backtest_calibration,
    backtest_config,
    backtest_report,
    backtest_scope,
    run_backtest,
    write_backtest_files,
)
from forecaster.report.accuracy import rolling_accuracy
from forecaster.series import SeriesKey
from tests.support.candles import store_candles
from tests.support.populate import BTC, candles_of, populate
from tests.support.tiny import TINY_JOB

KEY = SeriesKey("binance", "BTC/USDT", "1d")
JOB = backtest_config(TINY_JOB, retrain_every=3, horizon=3)
START, END = pd.Timestamp("2024-06-01", tz="UTC").to_pydatetime(), pd.Timestamp("2024-06-10", tz="UTC").to_pydatetime()


def store(sessions, frame: pd.DataFrame) -> None:
    store_candles(sessions, KEY, frame)


def history(btc: pd.DataFrame) -> pd.DataFrame:
    return btc[(btc["ts"] >= "2023-12-01") & (btc["ts"] <= "2024-06-20")]


def forecasts(sessions) -> pd.DataFrame:
    with sessions() as session:
        rows = session.execute(
            select(
                Forecast.model,
                Forecast.as_of,
                Forecast.horizon,
                Forecast.yhat,
                Forecast.yhat_lower,
                Forecast.yhat_upper,
            )
            .where(Forecast.run_kind == "backtest")
            .order_by(Forecast.as_of, Forecast.model, Forecast.horizon)
        ).all()
    return pd.DataFrame(rows, columns=["model", "as_of", "horizon", "yhat", "yhat_lower", "yhat_upper"])


def test_backtest_writes_forecasts_and_errors_then_resumes_and_reruns_as_a_no_op(btc, sessions, tmp_path):
    store(sessions, history(btc))
    middle = START + pd.Timedelta(days=4)
    first = run_backtest(sessions, KEY, START, middle, JOB, tmp_path)  # "interrupted" after five days
    assert len(first.days) == 5
    summary = run_backtest(sessions, KEY, START, END, JOB, tmp_path)
    assert summary.skipped == 5 and [f"{d.day:%d}" for d in summary.days] == ["06", "07", "08", "09", "10"]
    modes = [d.mode for d in first.days + summary.days]
    assert modes == [
        "full",
        "finetune",
        "finetune",
        "full",
        "finetune",
        "finetune",
        "full",
        "finetune",
        "finetune",
        "full",
    ]

    rows = forecasts(sessions)
    assert len(rows) == 10 * 5 * 3 and set(rows["model"]) == {"bilstm_gru", "naive", "drift", "moving_average", "garch"}
    with sessions() as session:
        live = session.scalar(select(func.count()).select_from(Forecast).where(Forecast.run_kind == "live"))
        lineage = set(session.scalars(select(ModelVersion.run_kind)))
        scored = session.scalar(select(func.count()).select_from(ForecastEvaluation))
    assert live == 0 and lineage == {"backtest"} and scored == len(rows)  # the candles reach past END

    again = run_backtest(sessions, KEY, START, END, JOB, tmp_path)
    assert again.days == [] and again.skipped == 10
    pd.testing.assert_frame_equal(forecasts(sessions), rows)

    with sessions() as session:
        table = backtest_report(session, KEY, START, END)
        files = write_backtest_files(session, KEY, START, END, table, tmp_path / "reports")
    assert set(table["model"]) == {"bilstm_gru", "naive", "drift", "moving_average", "garch"} and set(
        table["horizon"]
    ) == {
        1,
        2,
        3,
    }
    wanted = ("mae", "rmse", "mape_pct", "mase", "mae_vs_naive", "direction_accuracy", "coverage", "train_seconds")
    assert set(wanted) <= set(table.columns)
    naive = table[table["model"] == "naive"]
    assert (naive["mae_vs_naive"] == 1).all() and (naive["train_seconds"] == 0).all()
    assert (table.loc[table["model"] == "bilstm_gru", "train_seconds"] > 0).all()
    # every forecast made as of 06-01..06-10 counts, its target inside the range or not (the candles reach 06-20)
    assert table.set_index(["model", "horizon"]).loc[("naive", 3), "n"] == 10
    assert files.csv.exists() and files.forecast_plot.stat().st_size > 10_000
    assert "mean_pinball_loss" in pd.read_csv(files.csv).columns  # the CSV has every column
    calibration = pd.read_csv(files.calibration_csv)
    assert files.calibration_csv.name == files.csv.name.replace(".csv", "_calibration.csv")
    assert set(calibration["model"]) == set(table["model"]) and set(calibration["regime"]) >= {"calm", "all"}
    overall = calibration[calibration["regime"] == "all"].set_index(["model", "horizon"])
    assert (overall["n"] == table.set_index(["model", "horizon"])["n"]).all()
    assert files.calibration_plot is not None and files.calibration_plot.stat().st_size > 10_000


def test_no_look_ahead_changing_later_candles_changes_no_earlier_forecast(btc, tmp_path):
    cut = START + pd.Timedelta(days=5)
    tables = []
    for name, shock in [("real", 1.0), ("shocked", 1.5)]:
        url = f"sqlite:///{tmp_path / name}.db"
        engine = make_engine(url)
        upgrade(engine)
        sessions = session_factory(engine)
        frame = history(btc).copy()
        later = frame["ts"] > cut
        frame.loc[later, ["open", "high", "low", "close"]] *= shock  # the future is different
        store(sessions, frame)
        run_backtest(sessions, KEY, START, END, JOB, tmp_path / name)
        tables.append(forecasts(sessions))
        engine.dispose()
    real, shocked = tables
    known = real["as_of"] <= cut
    pd.testing.assert_frame_equal(real[known].reset_index(drop=True), shocked[known].reset_index(drop=True))
    assert not real[~known].equals(shocked[~known])  # later days did see their (different) candles


def test_bad_ranges_are_refused(btc, sessions, tmp_path):
    store(sessions, history(btc))
    with pytest.raises(InputError, match="is after --end"):
        run_backtest(sessions, KEY, END, START, JOB, tmp_path)
    with pytest.raises(InputError, match=r"needs 130 days of candles before --start .* has 32"):
        run_backtest(sessions, KEY, pd.Timestamp("2024-01-02", tz="UTC").to_pydatetime(), END, JOB, tmp_path)
    with pytest.raises(InputError, match="no candles of binance BTC/USDT 1d between"):
        run_backtest(
            sessions,
            KEY,
            pd.Timestamp("2025-01-01", tz="UTC").to_pydatetime(),
            pd.Timestamp("2025-02-01", tz="UTC").to_pydatetime(),
            JOB,
            tmp_path,
        )


def test_the_backtest_table_counts_what_forecast_accuracy_counts_and_says_so(database_url, btc, eth):
    """Observation 9: the printed table counted targets up to --end only (h1: n 19 vs 20 in the views)."""
    engine = make_engine(database_url)
    try:
        sessions = session_factory(engine)
        backtest = populate(database_url, sessions, candles_of(btc, eth), run_kind="backtest", days=30, stop=10)
        start, end = backtest.days[0], backtest.days[-1]
        with sessions() as session:
            table = backtest_report(session, BTC, start, end).set_index(["model", "horizon"])
            calibration = backtest_calibration(session, BTC, start, end)
            rolling = rolling_accuracy(session, [BTC], run_kind="backtest", windows=[90]).set_index(
                ["model", "horizon"]
            )
            view = pd.DataFrame(
                session.execute(
                    text("SELECT * FROM forecast_accuracy WHERE run_kind = 'backtest' AND symbol = 'BTC/USDT'")
                )
                .mappings()
                .all()
            ).set_index(["model", "horizon"])
    finally:
        engine.dispose()
    assert (table["n"] == 30).all()  # every as-of day's forecast, though the last days' targets lie past END
    overall = calibration[calibration["regime"] == "all"].set_index(["model", "horizon"])
    assert (overall.loc[table.index, "n"] == table["n"]).all()  # the calibration counts the same forecasts
    assert overall.loc[table.index, "coverage"].to_numpy() == pytest.approx(table["coverage"].to_numpy())
    assert overall.loc[table.index, "mean_interval_score"].to_numpy() == pytest.approx(
        table["mean_interval_score"].to_numpy()
    )
    terciles = calibration[calibration["regime"] != "all"].groupby("regime")["days"].first()
    assert terciles.to_dict() == {"calm": 10, "normal": 10, "stormy": 10}  # 30 as-of days
    assert max(table["last_target_date"]) == (end + pd.Timedelta(days=7)).date()
    for frame in (view, rolling):  # the same forecasts, the same figures
        assert (frame.loc[table.index, "n"] == table["n"]).all()
        for column in ("mae", "rmse", "mape_pct", "mae_vs_naive", "coverage"):
            assert frame.loc[table.index, column].astype(float).to_numpy() == pytest.approx(table[column].to_numpy())
    scope = backtest_scope(table.reset_index(), start, end)
    assert f"made as of {start:%Y-%m-%d}..{end:%Y-%m-%d}" in scope
    assert f"targets {start + pd.Timedelta(days=1):%Y-%m-%d}..{end + pd.Timedelta(days=7):%Y-%m-%d}" in scope
    assert "forecast_accuracy" in scope and "last 30 and 90 days" in scope
