"""A market whose candles end before the exchange's clock (halted, delisted, no longer published):
what was fetched is stored, the end is said, and no retries are spent on it; a hole in the middle
is still retried."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from forecaster.db.engine import make_engine, session_factory
from forecaster.db.models import IngestRun
from forecaster.errors import ExchangeUnavailable
from forecaster.exchange.client import make_exchange
from forecaster.exchange.loopback import LoopbackExchange
from forecaster.exchange.retry import RetryPolicy
from forecaster.exchange.synthetic import synthetic_candles
from forecaster.ingest.service import ingest_from_exchange
from forecaster.ingest.store import load_candles
from forecaster.series import SeriesKey
from tests.support.cli import forecaster
from tests.support.faults import Faults

FAST_RETRY = RetryPolicy(attempts=4, initial_delay_s=0.01, max_delay_s=0.05)
KEY = SeriesKey("binance", "LTC/USDT", "1d")
# 2,922 daily candles (three pages of 1,000), ending three months before the clock.
LTC = synthetic_candles("LTC/USDT", "2018-01-01", "2025-12-31")
CLOCK = pd.Timestamp("2026-03-30 00:10", tz="UTC")
ENDED = "no candles after 2025-12-31: the market may be halted or delisted"
SINCE = pd.Timestamp("2017-12-01", tz="UTC")


@pytest.fixture
def server() -> Iterator[LoopbackExchange]:
    with LoopbackExchange({"LTC/USDT": LTC}, now=CLOCK.to_pydatetime(), faults=Faults()) as exchange:
        yield exchange


def ingest(server: LoopbackExchange, sessions, **kwargs):
    return ingest_from_exchange(make_exchange("binance", server.url), sessions, KEY, policy=FAST_RETRY, **kwargs)


def records(sessions) -> list[IngestRun]:
    with sessions() as session:
        return list(session.scalars(select(IngestRun).order_by(IngestRun.id)))


def test_backfill_of_an_ended_market_stores_its_candles_and_says_where_they_end(server, sessions):
    summary = ingest(server, sessions, since=SINCE.to_pydatetime())

    assert summary.new == len(LTC) == 2922
    with sessions() as session:
        stored = load_candles(session, KEY)
    pd.testing.assert_frame_equal(stored, LTC.reset_index(drop=True), check_dtype=False)
    assert ENDED in summary.line()
    # three pages, the empty fourth, one look at the newest candles: no retries
    assert server.klines_requests == 5
    assert "startTime" not in server.requests[-1][1]
    [record] = records(sessions)
    assert record.status == "ok" and record.rows_new == 2922 and record.error == ENDED

    # the daily run after it: nothing new, the same words, two requests
    server.reset_requests()
    again = ingest(server, sessions)
    assert (again.new, again.updated) == (0, 0) and ENDED in again.line()
    assert server.klines_requests == 2
    assert [(run.status, run.error) for run in records(sessions)] == [("ok", ENDED), ("ok", ENDED)]


def test_a_hole_in_the_middle_is_retried_not_taken_for_the_end(server, sessions):
    server.faults.empty_next(2, after=1)  # the second page, and the look at the newest candles, come back empty
    summary = ingest(server, sessions, since=SINCE.to_pydatetime())
    assert summary.new == len(LTC)
    assert ENDED in summary.line()  # the real end, three pages later
    assert [run.status for run in records(sessions)] == ["ok"]


def test_a_hole_that_never_fills_fails_and_stores_nothing(sessions):
    later = synthetic_candles("LTC/USDT", "2026-01-01", "2026-03-29")
    with LoopbackExchange({"LTC/USDT": LTC}, now=CLOCK.to_pydatetime(), faults=Faults()) as server:
        server.extend("LTC/USDT", later)
        server.faults.empty_next(10**6, after=1)  # every page after the first is empty, yet candles exist
        with pytest.raises(ExchangeUnavailable, match="failed 4 times: BadResponse"):
            ingest(server, sessions, since=SINCE.to_pydatetime())
    with sessions() as session:
        assert load_candles(session, KEY).empty
    assert [run.status for run in records(sessions)] == ["failed"]


@pytest.mark.slow  # the console command
def test_the_ingest_command_backfills_an_ended_market(server, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'ended.db'}"
    env = {
        "FORECASTER_RETRY_ATTEMPTS": "3",
        "FORECASTER_RETRY_INITIAL_DELAY_S": "0.01",
        "FORECASTER_RETRY_MAX_DELAY_S": "0.05",
    }
    args = ["ingest", "-e", "binance", "-s", "LTC/USDT", "--since", "2017-12-01", "--api-url", server.url]
    result = forecaster(*args, database_url=url, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip()
        == f"binance LTC/USDT 1d: 2922 new, 0 updated; stored 2018-01-01..2025-12-31 (2922); {ENDED}"
    )
    assert server.klines_requests == 5
    engine = make_engine(url)
    with session_factory(engine)() as session:
        assert len(load_candles(session, KEY)) == 2922
    engine.dispose()
