"""The retention policy on a real registry: exactly the versions it names keep their checkpoints."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import Settings
from forecaster.db.models import Checkpoint, Forecast, ForecastEvaluation, ModelVersion
from forecaster.registry.checkpoint import CheckpointPruned
from forecaster.registry.prune import RetentionPolicy, prune, versions_to_keep
from forecaster.registry.store import checkpoint_data
from forecaster.registry.versions import load_version
from tests.support.cli import forecaster

DAY0 = datetime(2024, 6, 1, tzinfo=UTC)
POLICY = RetentionPolicy(keep_last=3, keep_full_weeks=1)

# BTC/USDT live: one version a day for 21 days, a full retrain on days 0, 7 and 14, fine-tunes of
# the day before otherwise. Kept: the newest 3 (118-120) and their ancestors back to the full
# retrain of day 14 (114-117, which is also the only full retrain of the week before day 20), and
# 103, which a forecast still awaiting its score references, with its ancestors 100-102. The
# forecasts of 105 are all scored: it goes, like 104-113.
BTC_LIVE = {100 + day: ("BTC/USDT", "live", day, "full" if day % 7 == 0 else "finetune") for day in range(21)}
# BTC/USDT backtest: its own lineage of 3 full retrains, all among its newest 3.
BTC_BACKTEST = {200 + day: ("BTC/USDT", "backtest", day, "full") for day in range(3)}
# ETH/USDT live: full retrains 10 days apart, no parents: the newest 3 stay (302-304; 304 is the one
# full retrain of the last week), 300 and 301 go.
ETH_LIVE = {300 + i: ("ETH/USDT", "live", 10 * i, "full") for i in range(5)}
VERSIONS = BTC_LIVE | BTC_BACKTEST | ETH_LIVE
PRUNED = [*range(104, 114), 300, 301]
KEPT = sorted(set(VERSIONS) - set(PRUNED))


def checkpoint_of(version_id: int) -> bytes:
    return f"checkpoint of version {version_id};".encode() * (50 + version_id)


def add_version(session: Session, cache: Path, version_id: int, spec: tuple[str, str, int, str]) -> None:
    symbol, run_kind, day, mode = spec
    data = checkpoint_of(version_id)
    sha256 = hashlib.sha256(data).hexdigest()
    key = f"binance/{symbol.replace('/', '-')}/1d/{version_id}.ckpt"
    parent = version_id - 1 if mode == "finetune" else None
    when = DAY0 + timedelta(days=day)
    session.add(
        ModelVersion(
            id=version_id,
            exchange="binance",
            symbol=symbol,
            timeframe="1d",
            run_kind=run_kind,
            created_at=when,
            mode=mode,
            parent_id=parent,
            train_start=when - timedelta(days=120),
            train_end=when,
            hyperparameters={},
            epochs=1,
            duration_s=1.0,
            checkpoint_path=key,
            checkpoint_sha256=sha256,
            manifest={},
        )
    )
    session.flush()
    session.add(Checkpoint(model_version_id=version_id, sha256=sha256, size=len(data), data=data))
    (cache / key).parent.mkdir(parents=True, exist_ok=True)
    (cache / key).write_bytes(data)


def add_forecast(session: Session, forecast_id: int, version_id: int, horizon: int, *, scored: bool) -> None:
    as_of = DAY0 + timedelta(days=version_id - 100)
    session.add(
        Forecast(
            id=forecast_id,
            run_kind="live",
            model="bilstm_gru",
            model_version_id=version_id,
            exchange="binance",
            symbol="BTC/USDT",
            timeframe="1d",
            as_of=as_of,
            target_ts=as_of + timedelta(days=horizon),
            as_of_date=as_of.date(),
            target_date=(as_of + timedelta(days=horizon)).date(),
            horizon=horizon,
            yhat=1.0,
            interval_level=0.8,
            created_at=as_of,
        )
    )
    if scored:
        session.flush()
        session.add(
            ForecastEvaluation(
                forecast_id=forecast_id, actual=1.0, error=0.0, abs_error=0.0, ape=0.0, evaluated_at=as_of
            )
        )


@pytest.fixture
def registry(sessions: sessionmaker[Session], tmp_path: Path) -> Path:
    """The versions above, their bytes stored and cached under the returned folder, and forecasts."""
    cache = tmp_path / "checkpoints"
    with sessions.begin() as session:
        for version_id, spec in sorted(VERSIONS.items()):
            add_version(session, cache, version_id, spec)
        add_forecast(session, 1, 103, 1, scored=True)
        add_forecast(session, 2, 103, 2, scored=False)  # its target has not arrived yet
        add_forecast(session, 3, 105, 1, scored=True)
        add_forecast(session, 4, 105, 2, scored=True)
    return cache


def snapshot(sessions: sessionmaker[Session], cache: Path) -> dict[str, Any]:
    with sessions() as session:
        return {
            "pruned_at": dict(session.execute(select(ModelVersion.id, ModelVersion.pruned_at)).tuples().all()),
            "stored": sorted(session.scalars(select(Checkpoint.model_version_id))),
            "files": sorted(path.relative_to(cache).as_posix() for path in cache.rglob("*.ckpt")),
            "forecasts": sorted(session.scalars(select(Forecast.model_version_id))),
        }


def test_prune_keeps_exactly_what_the_policy_says(sessions, registry):
    before = snapshot(sessions, registry)
    with sessions() as session:
        assert sorted(versions_to_keep(session, POLICY)) == KEPT

    dry = prune(sessions, POLICY, registry, dry_run=True)
    assert dry.pruned == PRUNED and dry.kept == KEPT
    assert dry.freed_bytes == sum(len(checkpoint_of(version_id)) for version_id in PRUNED)
    assert len(dry.files_removed) == len(PRUNED)
    assert dry.line().startswith("would prune 12 model versions (104-113, 300-301)")
    assert snapshot(sessions, registry) == before  # a dry run changes nothing

    done = prune(sessions, POLICY, registry)
    assert (done.pruned, done.kept, done.freed_bytes) == (dry.pruned, dry.kept, dry.freed_bytes)
    after = snapshot(sessions, registry)
    assert after["stored"] == KEPT
    assert {version_id for version_id, when in after["pruned_at"].items() if when is not None} == set(PRUNED)
    assert after["files"] == sorted(f"binance/{VERSIONS[i][0].replace('/', '-')}/1d/{i}.ckpt" for i in KEPT)
    assert after["forecasts"] == before["forecasts"]  # rows stay: the lineage stays queryable

    again = prune(sessions, POLICY, registry)
    assert (again.pruned, again.freed_bytes, again.files_removed) == ([], 0, [])
    assert snapshot(sessions, registry) == after  # pruning again changes nothing

    with sessions() as session:
        pruned, kept = session.get_one(ModelVersion, 105), session.get_one(ModelVersion, 103)
    assert pruned.parent_id == 104 and pruned.pruned_at is not None
    with pytest.raises(CheckpointPruned, match=r"model version 105 was pruned on \S+ by the retention policy"):
        load_version(sessions, pruned, registry)
    assert kept.pruned_at is None and checkpoint_data(sessions, kept, None) == checkpoint_of(103)


def test_another_machines_cache_is_swept_by_its_own_prune(sessions, registry, tmp_path):
    prune(sessions, POLICY, registry)
    other = tmp_path / "other" / "checkpoints"
    for version_id in (104, 118):  # what that machine had cached before the prune elsewhere
        key = f"binance/BTC-USDT/1d/{version_id}.ckpt"
        (other / key).parent.mkdir(parents=True, exist_ok=True)
        (other / key).write_bytes(checkpoint_of(version_id))
    before = snapshot(sessions, registry)
    report = prune(sessions, POLICY, other)
    assert report.pruned == [] and report.files_removed == [other / "binance/BTC-USDT/1d/104.ckpt"]
    assert [path.name for path in other.rglob("*.ckpt")] == ["118.ckpt"]
    assert snapshot(sessions, registry) == before


def test_the_policy_is_configured_from_the_environment(monkeypatch):
    monkeypatch.setenv("FORECASTER_KEEP_LAST", "3")
    monkeypatch.setenv("FORECASTER_KEEP_FULL_WEEKS", "1")
    assert RetentionPolicy.from_settings(Settings()) == POLICY
    assert RetentionPolicy.from_settings(Settings(_env_file=None, keep_last=7)).keep_last == 7
    with pytest.raises(ValueError, match="keep_last must be at least 1"):
        RetentionPolicy(keep_last=0)
    monkeypatch.setenv("FORECASTER_KEEP_LAST", "0")
    with pytest.raises(ValueError, match="keep_last"):
        Settings()


@pytest.mark.slow  # the console command
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the library runs on both, above
def test_the_prune_command(sessions, registry, database_url, tmp_path):
    env = {"FORECASTER_DATABASE_URL": database_url, "FORECASTER_DATA_DIR": str(registry.parent)}
    before = snapshot(sessions, registry)
    dry = forecaster(
        "registry", "prune", "--keep-last", "3", "--keep-full-weeks", "1", "--dry-run", env=env, cwd=tmp_path
    )
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("would prune 12 model versions (104-113, 300-301)") and "dry run" in dry.stdout
    assert snapshot(sessions, registry) == before

    configured = env | {"FORECASTER_KEEP_LAST": "3", "FORECASTER_KEEP_FULL_WEEKS": "1"}
    done = forecaster("registry", "prune", env=configured, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pruned 12 model versions") and "12 cache files removed" in done.stdout
    assert snapshot(sessions, registry)["stored"] == KEPT


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_daily_flows_prune_task_follows_the_workers_settings(sessions, registry, database_url, monkeypatch):
    from prefect.logging import disable_run_logger

    from flows.retention import prune_task

    monkeypatch.setenv("FORECASTER_DATABASE_URL", database_url)
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(registry.parent))
    monkeypatch.setenv("FORECASTER_KEEP_LAST", "3")
    monkeypatch.setenv("FORECASTER_KEEP_FULL_WEEKS", "1")
    monkeypatch.setenv("FORECASTER_PRUNE_AFTER_RUN", "false")
    with disable_run_logger():
        assert prune_task.fn() == "pruning is off (FORECASTER_PRUNE_AFTER_RUN=false)"
        monkeypatch.delenv("FORECASTER_PRUNE_AFTER_RUN")
        assert prune_task.fn().startswith("pruned 12 model versions (104-113, 300-301)")
    assert snapshot(sessions, registry)["stored"] == KEPT
