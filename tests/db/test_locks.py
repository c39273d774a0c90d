"""The per-series advisory lock (PostgreSQL): a second holder of the same series waits, another series does not."""

from __future__ import annotations

import threading
import time

import pytest

from forecaster.db.locks import advisory_lock


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_series_lock_makes_a_second_holder_wait(database_url, sessions):
    held, order = threading.Event(), []

    def second() -> None:
        held.wait()
        with advisory_lock(sessions, "forecaster train binance BTC/USDT 1d live"):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with advisory_lock(sessions, "forecaster train binance BTC/USDT 1d live"):
        held.set()
        time.sleep(1.0)  # the second holder is waiting meanwhile
        with advisory_lock(sessions, "forecaster train binance ETH/USDT 1d live"):
            order.append("another series does not wait")
        order.append("first")
    thread.join(timeout=30)
    assert order == ["another series does not wait", "first", "second"]
