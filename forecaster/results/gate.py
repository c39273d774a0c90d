"""The naive gate: has the model beaten "tomorrow = today" lately, for this symbol and horizon?

Over the forecasts whose target day fell in the ``window_days`` before the as-of day (and so were
already scored then), the model's and naive's absolute errors on the same (as_of, horizon) are
paired (``forecast_scores``), oldest as-of day first. ``mae_ratio`` = model MAE / naive MAE; with
at least ``min_pairs`` pairs a Diebold-Mariano test (absolute loss) gives ``pvalue``. The model
``beats_naive`` when ``mae_ratio < 1`` and ``pvalue < alpha``; it is null (no verdict) with fewer pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecaster.dates import as_utc
from forecaster.model.metrics import diebold_mariano
from forecaster.results.scores import forecast_scores
from forecaster.series import SeriesKey


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
    """The gate per horizon, from scored forecasts with target days in ``(as_of - window, as_of]``.

    The pairs are ``forecast_scores``' ``abs_error`` and ``naive_abs_error``, in as-of day order: the
    Diebold-Mariano variance sums autocovariances of consecutive pairs, so the order is part of the
    test, not the database's to choose.
    """
    s = forecast_scores.c
    day = as_utc(as_of).date()
    query = (
        select(s.horizon, s.abs_error, s.naive_abs_error)
        .where(
            s.model == model,
            s.run_kind == run_kind,
            s.exchange == key.exchange,
            s.symbol == key.symbol,
            s.timeframe == key.timeframe,
            s.naive_abs_error.is_not(None),
            s.target_date <= day,
            s.target_date > day - timedelta(days=config.window_days),
        )
        .order_by(s.horizon, s.as_of_date)
    )
    frame = pd.DataFrame(session.execute(query).all(), columns=["horizon", "model_error", "naive_error"])
    return {int(h): _gate(group, int(h), config) for h, group in frame.groupby("horizon", sort=True)}


def _gate(pairs: pd.DataFrame, horizon: int, config: GateConfig) -> Gate:
    n = len(pairs)
    naive_mae = float(pairs["naive_error"].mean())
    ratio = float(pairs["model_error"].mean()) / naive_mae if naive_mae > 0 else None
    if n < config.min_pairs or ratio is None:
        return Gate(n, ratio, None, None)
    _, p = diebold_mariano(pairs["model_error"].to_numpy(), pairs["naive_error"].to_numpy(), horizon, loss="absolute")
    pvalue = float(p) if np.isfinite(p) else None
    return Gate(n, ratio, pvalue, bool(ratio < 1 and pvalue is not None and pvalue < config.alpha))
