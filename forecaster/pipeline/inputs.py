"""What the steps share: the candles they read, and this process's turn at torch."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.ingest.store import load_candles
from forecaster.series import SeriesKey

# torch's random state belongs to the process: a fit in one thread would draw from the seed of a fit
# (or the weight init of a network built for a forecast) in another. Torch work in one process takes
# turns; parallel fits run in processes (Dask workers, work pools). A fit takes the torch turn first,
# then its series' lock, so a process waits on (and holds a connection for) at most one series lock.
TORCH_TURN = threading.Lock()


def read_history(sessions: sessionmaker[Session], key: SeriesKey, as_of: datetime, days: int) -> pd.DataFrame:
    """The candles of the ``days`` before ``as_of`` (inclusive), never any later one."""
    with sessions() as session:
        return load_candles(session, key, start=as_of - timedelta(days=days), end=as_of)
