"""Ingest through real ccxt against the loopback exchange, into real SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select

from forecaster.db.models import Candle, IngestRun
from forecaster.errors import ExchangeUnavailable, ForecasterError, InputError
from forecaster.exchange.client import make_exchange
from forecaster.exchange.loopback import LoopbackExchange
from forecaster.exchange.retry import RetryPolicy
from forecaster.ingest.service import ingest_from_exchange
from forecaster.ingest.store import load_candles
from forecaster.series import SeriesKey
from tests.support.faults import Faults

FAST_RETRY = RetryPolicy(attempts=4, initial_delay_s=0.01, max_delay_s=0.05)
KEY = SeriesKey("binance", "BTC/USDT", "1d")


def closed_at(frame: pd.DataFrame) -> pd.Timestamp:
    """A clock ten minutes after the last candle of ``frame`` closed."""
    return frame["ts"].iloc[-1] + pd.Timedelta(days=1, minutes=10)


@pytest.fixture
def server_for():
    servers = []

    def start(frame: pd.DataFrame, *, now: pd.Timestamp | None = None) -> LoopbackExchange:
        server = LoopbackExchange(
            {"BTC/USDT": frame}, now=(now or closed_at(frame)).to_pydatetime(), faults=Faults()
        ).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def ingest(server, sessions, **kwargs):
    return ingest_from_exchange(make_exchange("binance", server.url), sessions, KEY, policy=FAST_RETRY, **kwargs)


def stored(sessions) -> pd.DataFrame:
    with sessions() as session:
        return load_candles(session, KEY)


def test_real_btc_history_is_stored_exactly_with_its_gaps_and_a_rerun_changes_nothing(btc, sessions, server_for):
    server = server_for(btc)
    summary = ingest(server, sessions)

    frame = stored(sessions)
    assert len(frame) == len(btc) == summary.new
    pd.testing.assert_frame_equal(frame, btc.reset_index(drop=True), check_dtype=False)
    missing = [gap.first.strftime("%Y-%m-%d") for gap in summary.gaps for _ in range(gap.missing)]
    assert sum(gap.missing for gap in summary.gaps) == 6
    assert missing[0] == "2026-01-08" and "2026-03-25" in [g.first.strftime("%Y-%m-%d") for g in summary.gaps]
    assert server.klines_requests == 4  # 3142 candles at 1000 a page

    with sessions() as session:
        stamps = dict(session.execute(select(Candle.ts, Candle.ingested_at)).all())
    server.reset_requests()
    again = ingest(server, sessions)
    assert (again.new, again.updated) == (0, 0)
    # one request: the source's own missing 2026-03-25 lies among the last 7 stored days, so it is asked
    # for again (it could have been a refused candle); the 5 candles it brings are unchanged, nothing is written
    assert server.klines_requests == 1 and again.fetched == 5
    with sessions() as session:
        assert dict(session.execute(select(Candle.ts, Candle.ingested_at)).all()) == stamps
        runs = session.scalars(select(IngestRun).order_by(IngestRun.id)).all()
    assert [run.status for run in runs] == ["ok", "ok"]
    assert runs[0].rows_new == len(btc) and len(runs[0].gaps) == 4


def test_new_days_are_fetched_alone(btc, sessions, server_for):
    history, new_days = btc.iloc[:-5], btc.iloc[-5:]
    server = server_for(history)
    ingest(server, sessions)
    server.extend("BTC/USDT", new_days)
    server.set_clock(closed_at(btc).to_pydatetime())
    server.reset_requests()

    summary = ingest(server, sessions)
    assert (summary.new, summary.updated) == (5, 0)
    assert server.klines_requests == 1
    # it resumes at the first missing day among the last 7 stored: the source's own gap of 2026-03-20..22
    assert history["ts"].iloc[-1] == pd.Timestamp("2026-03-24", tz="UTC")
    resume_from = pd.Timestamp("2026-03-20", tz="UTC")
    assert int(server.requests[-1][1]["startTime"]) == int(resume_from.timestamp() * 1000)
    assert summary.stored.last == btc["ts"].iloc[-1]


def test_backfill_pages_through_more_than_three_pages(btc, sessions, server_for):
    server = server_for(btc)
    pages = []
    summary = ingest(server, sessions, since=pd.Timestamp("2017-08-17", tz="UTC").to_pydatetime(), on_page=pages.append)
    assert summary.new == len(btc)
    assert len(pages) == 4 and pages[-1].candles == len(btc)


def test_rate_limits_and_server_errors_are_retried_until_every_row_is_stored(btc, sessions, server_for):
    server = server_for(btc.iloc[-1500:])
    server.faults.fail_next(2, status=429, retry_after=0)
    server.faults.fail_next(1, status=503)
    summary = ingest(server, sessions)
    assert summary.new == 1500
    assert len(stored(sessions)) == 1500


def test_permanent_failure_is_a_clear_error_and_leaves_no_partial_batch(btc, sessions, server_for):
    server = server_for(btc.iloc[-2500:])
    server.faults.fail_next(1000, status=502)  # every klines call fails
    with pytest.raises(ExchangeUnavailable, match="fetch_ohlcv_page failed 4 times: ExchangeNotAvailable"):
        ingest(server, sessions)
    assert stored(sessions).empty
    with sessions() as session:
        run = session.scalars(select(IngestRun)).one()
    assert run.status == "failed" and "failed 4 times" in run.error


def test_failure_after_some_pages_writes_nothing(btc, sessions, server_for):
    server = server_for(btc.iloc[-2500:])
    ingest_pages = []

    def break_after_first_page(progress):
        ingest_pages.append(progress.pages)
        server.faults.fail_next(100, status=500)

    with pytest.raises(ExchangeUnavailable):
        ingest(server, sessions, on_page=break_after_first_page)
    assert ingest_pages == [1]
    assert stored(sessions).empty


def test_malformed_json_is_retried_then_reported_clearly(btc, sessions, server_for):
    server = server_for(btc.iloc[-100:])
    server.faults.malformed_next(1)
    assert ingest(server, sessions).new == 100
    server.faults.malformed_next(100)
    server.extend("BTC/USDT", btc.iloc[-100:])  # nothing new, but make the call happen
    with pytest.raises(ForecasterError):
        ingest_from_exchange(
            make_exchange("binance", server.url),
            sessions,
            KEY,
            since=pd.Timestamp("2026-01-01", tz="UTC").to_pydatetime(),
            policy=FAST_RETRY,
        )


def test_duplicated_candle_is_stored_once_and_open_candle_is_not_stored(btc, sessions, server_for):
    frame = btc.iloc[-30:]
    # the clock stands in the middle of the last day: that candle is still open
    server = server_for(frame, now=frame["ts"].iloc[-1] + pd.Timedelta(hours=12))
    server.faults.duplicate("BTC/USDT", frame["ts"].iloc[10].to_pydatetime())
    summary = ingest(server, sessions)
    assert summary.duplicates == 1
    assert summary.new == 29
    assert stored(sessions)["ts"].iloc[-1] == frame["ts"].iloc[-2]


def test_bad_candles_are_reported_and_not_stored(btc, sessions, server_for):
    frame = btc.iloc[-30:]
    server = server_for(frame)
    server.faults.corrupt("BTC/USDT", frame["ts"].iloc[5].to_pydatetime(), field="close", value=float("nan"))
    server.faults.corrupt("BTC/USDT", frame["ts"].iloc[6].to_pydatetime(), field="low", value=-1.0)
    summary = ingest(server, sessions)
    assert [r.reason for r in summary.rejected] == ["price is missing or not a number", "price is not positive"]
    assert len(stored(sessions)) == 28
    refused = [gap for gap in summary.gaps if gap.first == frame["ts"].iloc[5]]
    assert len(refused) == 1 and refused[0].missing == 2  # refused candles leave a reported gap


def test_unknown_symbol_is_refused_before_any_write(btc, sessions, server_for):
    server = server_for(btc.iloc[-10:])
    with pytest.raises(InputError, match="unknown symbol 'BTC/USDX'"):
        ingest_from_exchange(
            make_exchange("binance", server.url), sessions, SeriesKey("binance", "BTC/USDX"), policy=FAST_RETRY
        )
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(IngestRun)) == 0


def test_unknown_exchange_is_refused():
    with pytest.raises(InputError, match="unknown exchange 'nosuchex'"):
        make_exchange("nosuchex")


def test_a_refused_candle_is_healed_by_a_later_run(btc, sessions, server_for):
    frame = btc[(btc["ts"] >= "2025-01-01") & (btc["ts"] <= "2025-03-31")].reset_index(drop=True)
    server = server_for(frame.iloc[:-1])
    bad_day = frame["ts"].iloc[-4]
    server.faults.corrupt("BTC/USDT", bad_day.to_pydatetime(), field="close", value=float("nan"))
    first = ingest(server, sessions)
    assert [r.reason for r in first.rejected] == ["price is missing or not a number"]
    assert bad_day not in set(stored(sessions)["ts"])

    server.faults.clear()  # the exchange serves the day right again; a new day closes
    server.extend("BTC/USDT", frame.iloc[-1:])
    server.set_clock(closed_at(frame).to_pydatetime())
    second = ingest(server, sessions)
    assert second.new == 2  # the healed day and the new one
    pd.testing.assert_frame_equal(stored(sessions), frame, check_dtype=False)


def test_an_exchange_that_cannot_be_reached_leaves_a_failed_ingest_record(btc, sessions, server_for):
    server = server_for(btc.iloc[-10:])
    server.faults.fail_next(50, status=503, path="/api/v3/exchangeInfo")  # its market list never loads
    with pytest.raises(ForecasterError):
        ingest(server, sessions)
    with sessions() as session:
        record = session.scalars(select(IngestRun)).one()
        assert session.scalar(select(func.count()).select_from(Candle)) == 0
    assert record.status == "failed" and record.symbol == "BTC/USDT"
    assert record.error and "503" in record.error
