"""Typed settings read from the environment (``FORECASTER_*``), overridable per command or flow."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from forecaster.exchange.client import ExchangeConfig
    from forecaster.exchange.retry import RetryPolicy

# Light at module level (pydantic only): the ``forecaster`` command reads these settings before its
# arguments; SQLAlchemy and the exchange modules are imported by the methods that use them.


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
    data_dir: Path = Field(
        default=Path("forecaster-data"),
        description="This machine's checkpoint cache and reports go below it (checkpoints live in the database).",
    )
    exchange_api_url: str | None = Field(
        default=None, description="Replaces scheme and host of every REST root of the ccxt exchange."
    )
    exchange_timeout_ms: int = Field(
        default=10_000, ge=100, le=600_000, description="ccxt timeout of one exchange request, in milliseconds."
    )
    exchange_api_key: SecretStr | None = Field(
        default=None, description="Exchange API key (ccxt apiKey), from the environment only; never printed or stored."
    )
    exchange_api_secret: SecretStr | None = Field(
        default=None,
        description="Exchange API secret (ccxt secret), from the environment only; never printed or stored.",
    )
    retry_attempts: int = Field(default=5, ge=1, le=50, description="Calls per exchange request before giving up.")
    retry_initial_delay_s: float = Field(default=1.0, ge=0.0, le=600.0, description="First wait between attempts.")
    retry_max_delay_s: float = Field(
        default=30.0, ge=0.0, le=3600.0, description="Longest wait between attempts (a longer Retry-After is capped)."
    )
    exchange_concurrency: int = Field(
        default=2, ge=0, le=64, description="Parallel ingests per exchange under Prefect (0: no limit)."
    )
    torch_threads: int = Field(
        default=1,
        ge=0,
        le=1024,
        description="torch intra-op threads per process, set at the entry points (0: torch's default, one per core).",
    )
    task_retries: int = Field(
        default=2, ge=0, le=10, description="Prefect retries of a step that failed on a transient error."
    )
    task_retry_delay_s: float = Field(
        default=10.0,
        ge=0.0,
        le=3600.0,
        description="First wait before Prefect retries a step that failed on a transient error (then x2).",
    )

    keep_last: int = Field(
        default=7,
        ge=1,
        le=100_000,
        description="Retention: the newest model versions kept per series and run kind (at least the next parent).",
    )
    keep_full_weeks: int = Field(
        default=4,
        ge=0,
        le=5_200,
        description="Retention: every full retrain of this many weeks before a lineage's newest version is kept.",
    )
    prune_after_run: bool = Field(
        default=True, description="The daily flow prunes the registry (the retention policy) after publishing."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.retry_max_delay_s < self.retry_initial_delay_s:
            raise ValueError(
                f"retry_max_delay_s ({self.retry_max_delay_s}) is below retry_initial_delay_s "
                f"({self.retry_initial_delay_s})"
            )
        if (self.exchange_api_key is None) != (self.exchange_api_secret is None):
            raise ValueError("set both FORECASTER_EXCHANGE_API_KEY and FORECASTER_EXCHANGE_API_SECRET, or neither")
        return self

    @property
    def retry_policy(self) -> RetryPolicy:
        """How exchange calls are retried (``FORECASTER_RETRY_ATTEMPTS``, ``_INITIAL_DELAY_S``, ``_MAX_DELAY_S``)."""
        from forecaster.exchange.retry import RetryPolicy

        return RetryPolicy(self.retry_attempts, self.retry_initial_delay_s, self.retry_max_delay_s)

    @property
    def exchange_credentials(self) -> dict[str, str]:
        """ccxt's ``apiKey``/``secret`` when both are configured, else nothing. Never log the result."""
        if self.exchange_api_key is None or self.exchange_api_secret is None:
            return {}
        return {
            "apiKey": self.exchange_api_key.get_secret_value(),
            "secret": self.exchange_api_secret.get_secret_value(),
        }

    @property
    def exchange(self) -> ExchangeConfig:
        """How exchanges are called: timeout, credentials and retries (never log the result)."""
        from forecaster.exchange.client import ExchangeConfig

        return ExchangeConfig(self.exchange_timeout_ms, self.exchange_credentials, self.retry_policy)

    @property
    def checkpoint_dir(self) -> Path:
        """This machine's cache of the checkpoints stored in the database."""
        return self.data_dir / "checkpoints"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    def relative_paths(self) -> list[str]:
        """The settings that name a path relative to the working directory (a SQLite file, the data directory)."""
        from sqlalchemy.engine import make_url

        found = []
        url = make_url(self.database_url.get_secret_value())
        if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).is_absolute():
            found.append(f"FORECASTER_DATABASE_URL ({self.safe_database_url})")
        if not self.data_dir.is_absolute():
            found.append(f"FORECASTER_DATA_DIR ({self.data_dir})")
        return found

    @property
    def safe_database_url(self) -> str:
        """The database URL with its password masked, fit for logs, errors and summaries."""
        return redact_url(self.database_url.get_secret_value())


def redact_url(url: str) -> str:
    """Mask the password of a database URL (``postgresql://u:***@host/db``)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # an unparsable URL is shown as nothing rather than leaked
        return "<unparsable database URL>"
