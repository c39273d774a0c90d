"""What a database holds, read back for assertions."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import func, inspect, select

from forecaster.db.engine import make_engine, session_factory
from forecaster.db.models import Candle, Forecast, ModelVersion


def row_count(url: str, table: Any) -> int:
    """Rows of ``table`` (a mapped class); 0 where the schema was never even created."""
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table(table.__tablename__):
            return 0
        with session_factory(engine)() as session:
            return session.scalar(select(func.count()).select_from(table)) or 0
    finally:
        engine.dispose()


def series_rows(url: str) -> dict[str, pd.DataFrame]:
    """What a run leaves that must not depend on how it ran: candles, model versions, forecasts."""
    queries: dict[str, Any] = {
        "candles": select(Candle.symbol, Candle.ts, Candle.open, Candle.high, Candle.low, Candle.close, Candle.volume),
        "model_versions": select(
            ModelVersion.symbol,
            ModelVersion.run_kind,
            ModelVersion.mode,
            ModelVersion.train_start,
            ModelVersion.train_end,
            ModelVersion.epochs,
            ModelVersion.val_loss,
        ),
        "forecasts": select(
            Forecast.model,
            Forecast.symbol,
            Forecast.as_of,
            Forecast.horizon,
            Forecast.target_ts,
            Forecast.yhat,
            Forecast.yhat_lower,
            Forecast.yhat_upper,
            (Forecast.model_version_id.is_not(None)).label("has_version"),
        ),
    }
    engine = make_engine(url)
    with session_factory(engine)() as session:
        found = {
            name: pd.DataFrame(session.execute(query).all(), columns=list(query.selected_columns.keys()))
            for name, query in queries.items()
        }
    engine.dispose()
    return {name: frame.sort_values(list(frame.columns[:5]), ignore_index=True) for name, frame in found.items()}


def assert_same_rows(got: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    for name, frame in expected.items():
        assert len(frame), f"the reference run left no {name}"
        pd.testing.assert_frame_equal(got[name], frame, rtol=1e-9, obj=name)
