"""The evaluate step: score every forecast whose target candle has arrived."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from forecaster.results.evaluate import evaluate_matured
from forecaster.series import SeriesKey
from forecaster.timeframes import require_daily


def evaluate_step(sessions: sessionmaker[Session], key: SeriesKey | None = None) -> int:
    """Score every forecast of ``key`` (all series when None) whose target candle has arrived."""
    if key is not None:
        require_daily(key.timeframe)
    with sessions.begin() as session:
        return evaluate_matured(session, key)
