from forecaster.config import Settings, redact_url


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
