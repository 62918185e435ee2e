import pytest
from pydantic import ValidationError

from reporting.schemas import WebhookCreate
from reporting.stream import parse_last_event_id
from shared.errors import UnprocessableError


class TestParseLastEventId:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (None, None),
            ("", None),
            ("  ", None),
            ("0", 0),
            (" 42 ", 42),
            ("9223372036854775807", 2**63 - 1),
        ],
    )
    def test_event_ids_accepted(self, value: str | None, expected: int | None) -> None:
        assert parse_last_event_id(value) == expected

    @pytest.mark.parametrize(
        "value",
        [
            "9223372036854775808",
            "99999999999999999999999999",
            "9" * 5000,
            "-1",
            "+5",
            "1_000",
            "1e3",
            "abc",
            "\u0661\u0662",
        ],
    )
    def test_other_values_rejected(self, value: str) -> None:
        with pytest.raises(UnprocessableError) as raised:
            parse_last_event_id(value)
        detail = raised.value.detail
        assert "is not an event id of this stream" in detail
        assert "9223372036854775807" in detail
        assert len(detail) < 400

    def test_utf8_header_echoed_as_sent(self) -> None:
        # Starlette hands over the header's bytes decoded as Latin-1.
        as_decoded = "\u0661".encode().decode("latin-1")

        with pytest.raises(UnprocessableError) as raised:
            parse_last_event_id(as_decoded)

        assert raised.value.detail.startswith("Last-Event-ID '\u0661' is not")


class TestWebhookCreate:
    @pytest.mark.parametrize(
        ("field", "value"),
        [("url", "https://example.com/h\x00"), ("description", "a\x00b")],
    )
    def test_nul_character_rejected(self, field: str, value: str) -> None:
        body = {"url": "https://example.com/h", "event_types": ["visit.completed"]}
        with pytest.raises(ValidationError) as raised:
            WebhookCreate.model_validate(body | {field: value})
        [error] = raised.value.errors()
        assert error["loc"] == (field,)
        assert "NUL" in error["msg"]
