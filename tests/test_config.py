import pytest

from forecaster.config import Settings, redact_url
from forecaster.exchange.client import make_exchange

API_KEY, API_SECRET = "key-4c1d9e", "secret-9f3a7b"


def test_password_is_masked_everywhere_it_could_be_shown(monkeypatch):
    monkeypatch.setenv("FORECASTER_DATABASE_URL", "postgresql+psycopg://app:s3cret@db.internal:5432/prod")
    settings = Settings()
    assert "s3cret" not in settings.safe_database_url
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())
    assert settings.safe_database_url == "postgresql+psycopg://app:***@db.internal:5432/prod"


def test_defaults_are_embedded_and_overridable(tmp_path):
    assert Settings().database_url.get_secret_value() == "sqlite:///forecaster.db"
    settings = Settings(data_dir=tmp_path)
    assert settings.checkpoint_dir == tmp_path / "checkpoints"
    assert redact_url("not a url") == "<unparsable database URL>"


def test_api_credentials_come_from_the_environment_and_never_show(monkeypatch):
    monkeypatch.setenv("FORECASTER_EXCHANGE_API_KEY", API_KEY)
    monkeypatch.setenv("FORECASTER_EXCHANGE_API_SECRET", API_SECRET)
    settings = Settings()
    exchange = make_exchange("binance", config=settings.exchange)
    assert (exchange.apiKey, exchange.secret) == (API_KEY, API_SECRET)
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert API_KEY not in shown and API_SECRET not in shown
    monkeypatch.delenv("FORECASTER_EXCHANGE_API_SECRET")
    with pytest.raises(ValueError, match="set both FORECASTER_EXCHANGE_API_KEY and FORECASTER_EXCHANGE_API_SECRET"):
        Settings()
