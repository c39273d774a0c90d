"""checkpoints (the checkpoint bytes in the database) and model_versions.pruned_at

Every model version's checkpoint is stored in the database beside its row, so that every worker
that reaches the database can load it; ``FORECASTER_DATA_DIR/checkpoints`` becomes a local cache and
``checkpoint_path`` the checkpoint's key in it (``exchange/BASE-QUOTE/timeframe/<file>.ckpt``).

The upgrade copies each registered checkpoint file it can read on this machine (and whose sha256 is
the registered one) into ``checkpoints`` and turns its path into the cache key; run it where the
files are. A version whose file it cannot read keeps its absolute path: the machine that has the file
still loads it from there, any other one gets a clear ``CheckpointError``.

The downgrade refuses while a checkpoint is stored only in the database (a version with a cache
key, not a path): dropping the table would lose it.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from forecaster.db.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The cache key is the last four parts of the path forecaster wrote: exchange, BASE-QUOTE, timeframe, file.
KEY_PARTS = 4

versions = sa.table(
    "model_versions",
    sa.column("id", ID),
    sa.column("checkpoint_path", sa.String(1024)),
    sa.column("checkpoint_sha256", sa.String(64)),
)
checkpoints = sa.table(
    "checkpoints",
    sa.column("model_version_id", ID),
    sa.column("sha256", sa.String(64)),
    sa.column("size", sa.BigInteger()),
    sa.column("data", sa.LargeBinary()),
)


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column(
            "model_version_id",
            ID,
            sa.ForeignKey("model_versions.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.add_column("model_versions", sa.Column("pruned_at", UTCDateTime(), nullable=True))
    _copy_readable_files()


def _copy_readable_files() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(versions.c.id, versions.c.checkpoint_path, versions.c.checkpoint_sha256)).all()
    for version_id, path_text, sha256 in rows:
        path = Path(path_text)
        if not path.is_absolute() or len(path.parts) <= KEY_PARTS:
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue  # not on this machine: stays referenced by its path
        if hashlib.sha256(data).hexdigest() != sha256.lower():
            continue  # changed since it was registered: loading refuses it, as before
        conn.execute(
            checkpoints.insert().values(model_version_id=version_id, sha256=sha256.lower(), size=len(data), data=data)
        )
        key = "/".join(path.parts[-KEY_PARTS:])
        conn.execute(versions.update().where(versions.c.id == version_id).values(checkpoint_path=key))


def downgrade() -> None:
    conn = op.get_bind()
    stored_only = [
        path for (path,) in conn.execute(sa.select(versions.c.checkpoint_path)).all() if not Path(path).is_absolute()
    ]
    if stored_only:
        raise RuntimeError(
            f"{len(stored_only)} model versions keep their checkpoint only in the database (checkpoints): "
            "downgrading below 0004 would lose them"
        )
    # ALTER TABLE .. DROP COLUMN (SQLite 3.35+): a batch copy would drop model_versions, which forecasts reference
    op.drop_column("model_versions", "pruned_at")
    op.drop_table("checkpoints")
