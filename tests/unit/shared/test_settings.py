import pytest
from pydantic import ValidationError

from ingest.settings import IngestSettings
from shared.settings import ServiceSettings


@pytest.mark.parametrize("settings_class", [ServiceSettings, IngestSettings])
def test_short_secret_never_printed(monkeypatch, settings_class) -> None:
    monkeypatch.setenv("AGENT_TOKEN_SECRET", "the-secret")

    with pytest.raises(ValidationError) as raised:
        settings_class()

    assert "the-secret" not in str(raised.value)
    assert "the-secret" not in repr(raised.value)
    assert "at least 32" in str(raised.value)


def test_request_limit_default_one_mib(monkeypatch) -> None:
    monkeypatch.delenv("MAX_REQUEST_BYTES", raising=False)

    assert ServiceSettings().max_request_bytes == 1024 * 1024


def test_secret_read_from_file(monkeypatch, tmp_path) -> None:
    secret_file = tmp_path / "agent-token-secret"
    secret_file.write_text("s" * 40 + "\n")
    monkeypatch.delenv("AGENT_TOKEN_SECRET", raising=False)
    monkeypatch.setenv("AGENT_TOKEN_SECRET_FILE", str(secret_file))

    settings = ServiceSettings()

    assert settings.agent_token_secret.get_secret_value() == "s" * 40


def test_variable_wins_over_file(monkeypatch, tmp_path) -> None:
    secret_file = tmp_path / "database-url"
    secret_file.write_text("postgresql+asyncpg://from-file@db/campo")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://from-env@db/campo")
    monkeypatch.setenv("DATABASE_URL_FILE", str(secret_file))

    assert ServiceSettings().database_url.endswith("from-env@db/campo")


def test_unreadable_secret_file_named(monkeypatch, tmp_path) -> None:
    missing = tmp_path / "nothing-here"
    monkeypatch.delenv("AGENT_TOKEN_SECRET", raising=False)
    monkeypatch.setenv("AGENT_TOKEN_SECRET_FILE", str(missing))

    with pytest.raises(ValidationError) as raised:
        ServiceSettings()

    assert f"AGENT_TOKEN_SECRET_FILE={missing}" in str(raised.value)
    assert "FileNotFoundError" in str(raised.value)


def test_production_rejects_development_database(monkeypatch) -> None:
    monkeypatch.setenv("CAMPO_ENVIRONMENT", "production")
    monkeypatch.setenv("AGENT_TOKEN_SECRET", "p" * 40)
    monkeypatch.delenv("DATABASE_URL", raising=False)

    with pytest.raises(ValidationError, match="campo:campo"):
        ServiceSettings()


def test_production_accepts_own_database(monkeypatch) -> None:
    monkeypatch.setenv("CAMPO_ENVIRONMENT", "production")
    monkeypatch.setenv("AGENT_TOKEN_SECRET", "p" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://campo:Xy7@db:5432/campo")

    assert ServiceSettings().environment == "production"


def test_signing_secret_read_from_file(monkeypatch, tmp_path) -> None:
    secret_file = tmp_path / "signing-key-secret"
    secret_file.write_text("k" * 40 + "\n")
    monkeypatch.delenv("INGEST_SIGNING_KEY_SECRET", raising=False)
    monkeypatch.setenv("INGEST_SIGNING_KEY_SECRET_FILE", str(secret_file))

    settings = IngestSettings()

    assert settings.signing_key_secret.get_secret_value() == "k" * 40
