"""The naive gate: has the model beaten "tomorrow = today" lately, for this symbol and horizon?

Over the forecasts whose target fell in the ``window_days`` before the as-of day (and so were
already scored then), the model's and naive's absolute errors on the same (as_of, horizon) are
paired. ``mae_ratio`` = model MAE / naive MAE; with at least ``min_pairs`` pairs a Diebold-Mariano
test (absolute loss) gives ``pvalue``. The model ``beats_naive`` when ``mae_ratio < 1`` and
``pvalue < alpha``; it is null (no verdict) with fewer pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from forecaster.db.models import Forecast, ForecastEvaluation
from forecaster.model.metrics import diebold_mariano
from forecaster.series import SeriesKey, of_series


class GateConfig(BaseModel):
    """How the gate judges: over the last ``window_days``, with at least ``min_pairs``, at level ``alpha``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_days: int = Field(default=90, ge=7)
    min_pairs: int = Field(default=20, ge=2)
    alpha: float = Field(default=0.10, gt=0.0, lt=1.0)


@dataclass(frozen=True)
class Gate:
    n: int
    mae_ratio: float | None
    pvalue: float | None
    beats_naive: bool | None

    def verdict(self) -> str:
        """One plain phrase: ``beats naive (MAE 0.93x, p 0.04, n 85)``, or why there is no verdict."""
        if self.beats_naive is None or self.mae_ratio is None:
            return f"no verdict (n = {self.n} scored pairs, too few to judge)"
        judged = "beats naive" if self.beats_naive else "does not beat naive"
        return f"{judged} (MAE {self.mae_ratio:.3f}x naive's, p {self.pvalue:.2f}, n {self.n})"


def naive_gate(
    session: Session, key: SeriesKey, as_of: datetime, run_kind: str, model: str, config: GateConfig
) -> dict[int, Gate]:
    """The gate per horizon, from scored forecasts with targets in ``(as_of - window, as_of]``."""
    naive, naive_error = aliased(Forecast), aliased(ForecastEvaluation)
    query = (
        select(Forecast.horizon, ForecastEvaluation.abs_error, naive_error.abs_error)
        .join(ForecastEvaluation, ForecastEvaluation.forecast_id == Forecast.id)
        .join(
            naive,
            (naive.model == "naive")
            & (naive.exchange == Forecast.exchange)
            & (naive.symbol == Forecast.symbol)
            & (naive.timeframe == Forecast.timeframe)
            & (naive.as_of == Forecast.as_of)
            & (naive.horizon == Forecast.horizon)
            & (naive.run_kind == Forecast.run_kind),
        )
        .join(naive_error, naive_error.forecast_id == naive.id)
        .where(
            Forecast.model == model,
            Forecast.run_kind == run_kind,
            of_series(Forecast, key),
            Forecast.target_ts <= as_of,
            Forecast.target_ts > as_of - timedelta(days=config.window_days),
        )
    )
    frame = pd.DataFrame(session.execute(query).all(), columns=["horizon", "model_error", "naive_error"])
    return {int(h): _gate(group, int(h), config) for h, group in frame.groupby("horizon")}


def _gate(pairs: pd.DataFrame, horizon: int, config: GateConfig) -> Gate:
    n = len(pairs)
    naive_mae = float(pairs["naive_error"].mean())
    ratio = float(pairs["model_error"].mean()) / naive_mae if naive_mae > 0 else None
    if n < config.min_pairs or ratio is None:
        return Gate(n, ratio, None, None)
    _, p = diebold_mariano(pairs["model_error"].to_numpy(), pairs["naive_error"].to_numpy(), horizon, loss="absolute")
    pvalue = float(p) if np.isfinite(p) else None
    return Gate(n, ratio, pvalue, bool(ratio < 1 and pvalue is not None and pvalue < config.alpha))
