"""The retention policy: which model versions keep their checkpoint, and pruning the others.

A version keeps its checkpoint when

1. a stored forecast that is still awaiting its score references it (``forecasts.model_version_id``
   with a horizon not yet evaluated): the forecast may still be reproduced from it;
2. it is among the newest ``keep_last`` of its lineage (series and run kind): the newest is the
   parent of the next fine-tune;
3. it is a full retrain of the ``keep_full_weeks`` weeks before its lineage's newest version;
4. it is an ancestor (``parent_id`` chain) of a version kept by 1-3: a kept fine-tune can be
   retraced to the full retrain it started from.

Pruning deletes the other versions' stored bytes (``checkpoints``) and this machine's cache files of
every pruned version, and sets ``model_versions.pruned_at``: the rows stay, so the lineage and the
forecasts' references remain queryable, and loading a pruned version is a clear ``CheckpointPruned``.
A dry run changes nothing; pruning again changes nothing (the policy only counts rows, pruned or not).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import Settings
from forecaster.db.locks import advisory_lock
from forecaster.db.models import Checkpoint, Forecast, ForecastEvaluation, ModelVersion
from forecaster.registry.store import is_cache_key

CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class RetentionPolicy:
    """``keep_last`` newest versions per lineage (at least 1), full retrains of ``keep_full_weeks`` weeks."""

    keep_last: int = 7
    keep_full_weeks: int = 4

    def __post_init__(self) -> None:
        if self.keep_last < 1:
            raise ValueError(
                f"keep_last must be at least 1 (the newest version is the next parent), not {self.keep_last}"
            )
        if self.keep_full_weeks < 0:
            raise ValueError(f"keep_full_weeks must be 0 or more, not {self.keep_full_weeks}")

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        """``FORECASTER_KEEP_LAST`` and ``FORECASTER_KEEP_FULL_WEEKS``."""
        return cls(settings.keep_last, settings.keep_full_weeks)


@dataclass(frozen=True)
class _Version:
    id: int
    lineage: tuple[str, str, str, str]  # exchange, symbol, timeframe, run_kind
    mode: str
    train_end: datetime
    parent_id: int | None
    pruned: bool


@dataclass
class PruneReport:
    """What a prune did (or, in a dry run, would do)."""

    dry_run: bool
    kept: list[int] = field(default_factory=list)  # versions that keep their checkpoint
    pruned: list[int] = field(default_factory=list)  # versions pruned by this call
    freed_bytes: int = 0  # stored checkpoint bytes deleted
    files_removed: list[Path] = field(default_factory=list)  # this machine's cache files deleted

    def line(self) -> str:
        verb = "would prune" if self.dry_run else "pruned"
        ids = f" ({_ids(self.pruned)})" if self.pruned else ""
        text = (
            f"{verb} {len(self.pruned)} model versions{ids}, {self.freed_bytes / 2**20:.1f} MiB of checkpoints; "
            f"{len(self.kept)} keep theirs; {len(self.files_removed)} cache files "
            f"{'to remove' if self.dry_run else 'removed'}"
        )
        return text + (" (dry run: nothing changed)" if self.dry_run else "")


def versions_to_keep(session: Session, policy: RetentionPolicy) -> set[int]:
    """The ids of the versions the policy keeps (the module docstring says which)."""
    return _keep(session, list(_versions(session)), policy)


def _keep(session: Session, listed: list[_Version], policy: RetentionPolicy) -> set[int]:
    versions = {version.id: version for version in listed}
    keep = _awaiting_score(session) & versions.keys()
    keep |= _newest(versions.values(), policy.keep_last)
    keep |= _recent_full(versions.values(), timedelta(weeks=policy.keep_full_weeks))
    return _with_ancestors(keep, versions)


def prune(
    sessions: sessionmaker[Session],
    policy: RetentionPolicy,
    cache_dir: Path | None,
    *,
    dry_run: bool = False,
) -> PruneReport:
    """Apply ``policy``: delete the stored checkpoints of the versions it does not keep and mark them
    pruned, then remove this machine's cache files of every pruned version (under ``cache_dir``)."""
    report = PruneReport(dry_run)
    with advisory_lock(sessions, "forecaster registry prune"):
        with sessions() as session:
            versions = list(_versions(session))
            keep = _keep(session, versions, policy)
            sizes = dict(session.execute(select(Checkpoint.model_version_id, Checkpoint.size)).tuples().all())
            paths = dict(session.execute(select(ModelVersion.id, ModelVersion.checkpoint_path)).tuples().all())
        report.kept = sorted(version.id for version in versions if version.id in keep and not version.pruned)
        report.pruned = sorted(version.id for version in versions if version.id not in keep and not version.pruned)
        report.freed_bytes = sum(sizes.get(version_id, 0) for version_id in report.pruned)
        if not dry_run and report.pruned:
            _mark_pruned(sessions, report.pruned)
        gone = {version.id for version in versions if version.pruned} | set(report.pruned)
        report.files_removed = _cache_files(cache_dir, [paths[version_id] for version_id in sorted(gone)])
        if not dry_run:
            for path in report.files_removed:
                path.unlink(missing_ok=True)
    return report


def _versions(session: Session) -> Iterator[_Version]:
    rows = session.execute(
        select(
            ModelVersion.id,
            ModelVersion.exchange,
            ModelVersion.symbol,
            ModelVersion.timeframe,
            ModelVersion.run_kind,
            ModelVersion.mode,
            ModelVersion.train_end,
            ModelVersion.parent_id,
            ModelVersion.pruned_at,
        )
    )
    for row in rows:
        lineage = (row.exchange, row.symbol, row.timeframe, row.run_kind)
        yield _Version(row.id, lineage, row.mode, row.train_end, row.parent_id, row.pruned_at is not None)


def _awaiting_score(session: Session) -> set[int]:
    """Versions referenced by a forecast whose target has not been scored yet."""
    query = (
        select(Forecast.model_version_id)
        .outerjoin(ForecastEvaluation, ForecastEvaluation.forecast_id == Forecast.id)
        .where(Forecast.model_version_id.is_not(None), ForecastEvaluation.forecast_id.is_(None))
        .distinct()
    )
    return {version_id for version_id in session.scalars(query) if version_id is not None}


def _lineages(versions: Iterable[_Version]) -> dict[tuple[str, str, str, str], list[_Version]]:
    """Each lineage's versions, newest first."""
    grouped: dict[tuple[str, str, str, str], list[_Version]] = defaultdict(list)
    for version in versions:
        grouped[version.lineage].append(version)
    for members in grouped.values():
        members.sort(key=lambda version: (version.train_end, version.id), reverse=True)
    return grouped


def _newest(versions: Iterable[_Version], count: int) -> set[int]:
    return {version.id for members in _lineages(versions).values() for version in members[:count]}


def _recent_full(versions: Iterable[_Version], span: timedelta) -> set[int]:
    """Full retrains trained on data ending within ``span`` before their lineage's newest version."""
    kept = set()
    for members in _lineages(versions).values():
        cutoff = members[0].train_end - span
        kept |= {version.id for version in members if version.mode == "full" and version.train_end > cutoff}
    return kept


def _with_ancestors(keep: set[int], versions: dict[int, _Version]) -> set[int]:
    closed = set()
    for version_id in keep:
        current: int | None = version_id
        while current is not None and current not in closed and current in versions:
            closed.add(current)
            current = versions[current].parent_id
    return closed


def _mark_pruned(sessions: sessionmaker[Session], version_ids: list[int]) -> None:
    """Delete the stored bytes and set ``pruned_at``, in one transaction."""
    now = datetime.now(UTC)
    with sessions.begin() as session:
        for chunk in _chunks(version_ids):
            session.execute(delete(Checkpoint).where(Checkpoint.model_version_id.in_(chunk)))
            session.execute(
                update(ModelVersion)
                .where(ModelVersion.id.in_(chunk), ModelVersion.pruned_at.is_(None))
                .values(pruned_at=now)
            )


def _cache_files(cache_dir: Path | None, checkpoint_paths: list[str]) -> list[Path]:
    """The files of these checkpoints present on this machine: cache files, and the files of versions
    registered before the store when they lie inside the cache folder."""
    if cache_dir is None:
        return []
    root = cache_dir.resolve()
    found = []
    for text in checkpoint_paths:
        path = cache_dir / text if is_cache_key(text) else Path(text)
        if path.resolve().is_relative_to(root) and path.is_file():
            found.append(path)
    return found


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _ids(ids: list[int]) -> str:
    """``3-5, 9`` for [3, 4, 5, 9]."""
    runs: list[list[int]] = []
    for value in ids:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)
