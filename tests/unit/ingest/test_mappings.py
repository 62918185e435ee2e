import pytest

from ingest.mappings.service import (
    InvalidMappingError,
    combine,
    parse_mapping_field,
    validate_mapping,
)


class TestCombine:
    def test_explicit_header_wins(self):
        saved = {"Folio": "account_key", "Importe": "balance_overdue"}
        explicit = {"FOLIO": "credit_number"}
        assert combine(saved, explicit) == {
            "Importe": "balance_overdue",
            "FOLIO": "credit_number",
        }

    def test_explicit_field_wins(self):
        saved = {"Folio": "account_key"}
        explicit = {"Referencia": "account_key"}
        assert combine(saved, explicit) == {"Referencia": "account_key"}

    def test_no_explicit_keeps_saved(self):
        assert combine({"Folio": "account_key"}, None) == {"Folio": "account_key"}


class TestValidation:
    def test_nul_in_header_rejected(self):
        with pytest.raises(InvalidMappingError, match="NUL"):
            validate_mapping({"Fo\x00lio": "account_key"})

    def test_blank_header_rejected(self):
        with pytest.raises(InvalidMappingError, match="empty"):
            validate_mapping({" - ": "account_key"})

    @pytest.mark.parametrize("text", ["[1, 2]", '{"Folio": 3}', "null"])
    def test_form_field_must_be_object_of_strings(self, text: str):
        with pytest.raises(InvalidMappingError, match="JSON object"):
            parse_mapping_field(text)

    def test_form_field_parsed(self):
        assert parse_mapping_field('{"Folio": "account_key"}') == {
            "Folio": "account_key"
        }
