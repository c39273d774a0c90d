"""Typed settings read from the environment (``FORECASTER_*``), overridable per command or flow."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class Settings(BaseSettings):
    """Where forecaster keeps its state.

    Every field reads ``FORECASTER_<NAME>`` from the environment; commands and flows pass
    overrides as keyword arguments (``Settings(database_url=...)``).
    """

    model_config = SettingsConfigDict(env_prefix="FORECASTER_", frozen=True, extra="forbid")

    database_url: SecretStr = Field(
        default=SecretStr("sqlite:///forecaster.db"),
        description="SQLAlchemy URL; the password in it is never printed.",
    )
    data_dir: Path = Field(default=Path("forecaster-data"), description="Checkpoints and reports go below it.")
    exchange_api_url: str | None = Field(
        default=None, description="Replaces scheme and host of every REST root of the ccxt exchange."
    )

    @property
    def checkpoint_dir(self) -> Path:
        return self.data_dir / "checkpoints"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def safe_database_url(self) -> str:
        """The database URL with its password masked, fit for logs, errors and summaries."""
        return redact_url(self.database_url.get_secret_value())


def redact_url(url: str) -> str:
    """Mask the password of a database URL (``postgresql://u:***@host/db``)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # an unparsable URL is shown as nothing rather than leaked
        return "<unparsable database URL>"
