from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from forecaster.db.engine import make_engine, ping
from forecaster.db.migrate import current_revision, ensure_schema, head_revision, upgrade
from forecaster.db.models import Candle
from forecaster.errors import DatabaseUnavailable, SchemaOutdated


def test_timestamps_round_trip_as_aware_utc(sessions):
    eastern = timezone(timedelta(hours=-5))
    with sessions.begin() as session:
        session.add(
            Candle(
                exchange="x",
                symbol="A/B",
                timeframe="1d",
                ts=datetime(2024, 1, 1, 19, tzinfo=eastern),
                open=1,
                high=1,
                low=1,
                close=1,
                volume=0,
                ingested_at=datetime.now(UTC),
            )
        )
    with sessions() as session:
        ts = session.scalars(select(Candle.ts)).one()
    assert ts == datetime(2024, 1, 2, 0, tzinfo=UTC) and ts.tzinfo is not None


def test_naive_datetimes_are_refused(sessions):
    with pytest.raises(Exception, match="naive datetime"), sessions.begin() as session:
        session.add(
            Candle(
                exchange="x",
                symbol="A/B",
                timeframe="1d",
                ts=datetime(2024, 1, 1),
                open=1,
                high=1,
                low=1,
                close=1,
                volume=0,
                ingested_at=datetime.now(UTC),
            )
        )
        session.flush()


def test_empty_database_is_created_and_an_older_one_is_refused(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    ensure_schema(engine)
    assert current_revision(engine) == head_revision()

    old = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(old, "0001")
    if head_revision() != "0001":
        with pytest.raises(SchemaOutdated, match="forecaster db upgrade"):
            ensure_schema(old)
    upgrade(old)
    ensure_schema(old)
    assert current_revision(old) == head_revision()


def test_unreachable_database_is_one_clear_error_without_the_password():
    engine = make_engine("postgresql+psycopg://app:s3cret@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    with pytest.raises(DatabaseUnavailable) as info:
        ping(engine)
    assert "cannot reach the database" in str(info.value)
    assert "s3cret" not in str(info.value)
