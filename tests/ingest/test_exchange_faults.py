"""Exchange faults during a full ``daily`` flow run, on SQLite and PostgreSQL.

Every case ends complete with the exact source candles stored, or failed with a clear message;
in every case the database holds only valid candles: each equal to the source row of its day,
none still open, none twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

import flows.daily
from flows.daily import daily
from flows.tasks import ingest_task
from forecaster.db.engine import make_engine, session_factory
from forecaster.db.models import Candle, Forecast, IngestRun
from forecaster.exchange.client import PAGE_LIMIT_OVERRIDES
from forecaster.exchange.loopback import LoopbackExchange
from forecaster.series import CANDLE_COLUMNS
from tests.support.candles import LAST_DAY, clock_after, half_year_exchange, window
from tests.support.faults import Faults
from tests.support.tiny import params

Arm = Callable[[LoopbackExchange], None]
EVERY_PATH = ("/api/v3/klines", "/api/v3/exchangeInfo", "/api/v3/time")


@pytest.fixture
def fast_env(prefect_server: None, database_url: str, tmp_path, monkeypatch) -> str:
    """Tasks read settings from the environment: fast exchange retries, 50-candle pages (4 per backfill),
    and Prefect's task retries without their 10 s waits."""
    monkeypatch.setenv("FORECASTER_DATABASE_URL", database_url)
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FORECASTER_RETRY_ATTEMPTS", "3")
    monkeypatch.setenv("FORECASTER_RETRY_INITIAL_DELAY_S", "0.01")
    monkeypatch.setenv("FORECASTER_RETRY_MAX_DELAY_S", "0.5")
    monkeypatch.setenv("FORECASTER_EXCHANGE_TIMEOUT_MS", "2000")
    monkeypatch.setitem(PAGE_LIMIT_OVERRIDES, "binance", 50)
    monkeypatch.setattr(flows.daily, "ingest_task", ingest_task.with_options(retry_delay_seconds=0))
    return database_url


@pytest.fixture
def source(btc: pd.DataFrame) -> pd.DataFrame:
    return window(btc)


@pytest.fixture
def server(source: pd.DataFrame) -> Iterator[LoopbackExchange]:
    with half_year_exchange({"BTC/USDT": source}, faults=Faults()) as exchange:
        yield exchange


def stored_candles(url: str) -> pd.DataFrame:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        rows = session.execute(
            select(Candle.ts, Candle.open, Candle.high, Candle.low, Candle.close, Candle.volume).order_by(Candle.ts)
        ).all()
    engine.dispose()
    frame = pd.DataFrame(rows, columns=CANDLE_COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def assert_only_valid_candles(url: str, source: pd.DataFrame, clock: pd.Timestamp) -> pd.DataFrame:
    """Every stored candle is the source row of its day, closed by ``clock``, finite and positive, once."""
    stored = stored_candles(url)
    assert not stored["ts"].duplicated().any()
    assert (stored["ts"] + pd.Timedelta(days=1) <= clock).all(), "a still-open candle was stored"
    values = stored[CANDLE_COLUMNS[1:]].to_numpy(dtype=float)
    assert np.isfinite(values).all() and (values[:, :4] > 0).all() and (values[:, 4] >= 0).all()
    merged = stored.merge(source, on="ts", how="left", suffixes=("", "_source"), indicator=True)
    assert (merged["_merge"] == "both").all(), "a stored candle has no source row"
    for column in CANDLE_COLUMNS[1:]:
        assert (merged[column] == merged[f"{column}_source"]).all(), f"{column} differs from the source"
    return stored


def days(*texts: str) -> set[pd.Timestamp]:
    return {pd.Timestamp(text, tz="UTC") for text in texts}


def _down(server: LoopbackExchange) -> None:
    for path in EVERY_PATH:
        server.faults.fail_next(10**6, status=503, path=path)


def _corrupt(server: LoopbackExchange) -> None:
    server.faults.corrupt("BTC/USDT", "2024-03-01", field="close", value=float("nan"))
    server.faults.corrupt("BTC/USDT", "2024-03-02", field="low", value=-1.0)


# The fast subset (-m "not slow") runs one case of each kind: a flow run per case takes seconds.
FAST_CASES = ("429 with Retry-After", "dropped candle", "klines down after the market list")


def cases(table: dict[str, object]) -> list[object]:
    return [case if case in FAST_CASES else pytest.param(case, marks=pytest.mark.slow) for case in table]


COMPLETE: dict[str, tuple[Arm, set[pd.Timestamp]]] = {
    # fault armed on the server -> the source days that must be missing from the database
    "429 with Retry-After": (lambda s: s.faults.fail_next(2, status=429, retry_after=0.2), set()),
    "418 then 5xx": (
        lambda s: (s.faults.fail_next(1, status=418), s.faults.fail_next(2, status=502)),
        set(),
    ),
    "5xx with Binance's JSON body": (lambda s: s.faults.fail_next(2, status=500, code=-1001), set()),
    "malformed page and market list": (
        lambda s: (s.faults.malformed_next(1, after=1), s.faults.malformed_next(1, path="/api/v3/exchangeInfo")),
        set(),
    ),
    "malformed server time": (lambda s: s.faults.malformed_next(1, path="/api/v3/time"), set()),
    "truncated body": (lambda s: s.faults.truncated_next(1, after=2), set()),
    "empty page mid-backfill": (lambda s: s.faults.empty_next(2, after=1), set()),
    "unordered pages": (lambda s: s.faults.unordered_next(2), set()),
    "duplicated candle": (lambda s: s.faults.duplicate("BTC/USDT", "2024-03-01"), set()),
    "NaN and negative prices": (_corrupt, days("2024-03-01", "2024-03-02")),
    "dropped candle": (lambda s: s.faults.drop("BTC/USDT", "2024-03-01"), days("2024-03-01")),
    "latency within the timeout": (lambda s: s.faults.set_latency(0.05), set()),
}


@pytest.mark.parametrize("case", cases(COMPLETE))
def test_recoverable_fault_completes_with_exact_candles(case, fast_env, server, source):
    arm, missing = COMPLETE[case]
    arm(server)
    state = daily(**params("BTC/USDT"), api_url=server.url, return_state=True)
    assert state.is_completed(), state.message
    stored = assert_only_valid_candles(fast_env, source, pd.Timestamp(clock_after(LAST_DAY)))
    assert set(source["ts"]) - set(stored["ts"]) == missing
    assert state.result()["series"]["binance BTC/USDT 1d"]["days"] == [f"{LAST_DAY:%Y-%m-%d}"]


def test_still_open_candle_is_never_stored(fast_env, server, source):
    clock = LAST_DAY + pd.Timedelta(hours=12)  # inside the last day: the exchange serves it as open
    server.set_clock(clock.to_pydatetime())
    state = daily(**params("BTC/USDT"), api_url=server.url, return_state=True)
    assert state.is_completed(), state.message
    stored = assert_only_valid_candles(fast_env, source, clock)
    assert stored["ts"].max() == LAST_DAY - pd.Timedelta(days=1)
    assert state.result()["series"]["binance BTC/USDT 1d"]["days"] == [f"{LAST_DAY - pd.Timedelta(days=1):%Y-%m-%d}"]


FAILING: dict[str, tuple[Arm, str]] = {
    "exchange down all run": (_down, "load_markets failed 3 times: ExchangeNotAvailable"),
    "klines down after the market list": (
        lambda s: s.faults.fail_next(10**6, status=503),
        "fetch_ohlcv_page failed 3 times: ExchangeNotAvailable",
    ),
    "rate limited all run": (
        lambda s: s.faults.fail_next(10**6, status=429, retry_after=0.01),
        "failed 3 times: DDoSProtection",
    ),
    "malformed every time": (lambda s: s.faults.malformed_next(10**6, after=1), "failed 3 times: BadResponse"),
}


@pytest.mark.parametrize("case", cases(FAILING))
def test_persistent_fault_fails_clearly_and_writes_no_candle(case, fast_env, server, source):
    arm, message = FAILING[case]
    arm(server)
    state = daily(**params("BTC/USDT"), api_url=server.url, return_state=True)
    assert state.is_failed()
    assert "1 of 1 series failed: binance BTC/USDT 1d (binance " in state.message and message in state.message
    assert stored_candles(fast_env).empty
    engine = make_engine(fast_env)
    with session_factory(engine)() as session:
        assert session.scalars(select(Forecast.id)).first() is None
        records = session.scalars(select(IngestRun)).all()
    engine.dispose()
    assert all(record.status == "failed" and message in (record.error or "") for record in records)


@pytest.mark.slow  # waits out the client timeout on every attempt
def test_latency_beyond_the_client_timeout_fails_clearly(fast_env, server, monkeypatch):
    monkeypatch.setenv("FORECASTER_EXCHANGE_TIMEOUT_MS", "100")
    server.faults.set_latency(0.4)
    state = daily(**params("BTC/USDT"), api_url=server.url, return_state=True)
    assert state.is_failed()
    assert "failed 3 times: RequestTimeout" in state.message, state.message
    assert stored_candles(fast_env).empty
