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
