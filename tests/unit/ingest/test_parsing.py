import re
from decimal import Decimal

import pytest

from ingest.uploads.columns import RenamedColumn, map_columns, normalize_header
from ingest.uploads.normalize import (
    ValueProblem,
    as_text,
    check_location,
    parse_days,
    parse_money,
    parse_phone,
    parse_postal_code,
)
from ingest.uploads.parsing import UnreadableFileError, detect_format, parse_file
from tests.fixtures.portfolios import HEADERS, account_row, csv_bytes, xlsx_bytes


class TestHeaders:
    @pytest.mark.parametrize(
        ("header", "field"),
        [
            ("No. de Crédito", "credit_number"),
            ("NUM_CUENTA", "account_key"),
            ("Nombre del Titular", "debtor_name"),
            ("C.P.", "postal_code"),
            ("Alcaldía / Municipio", "municipality"),
            ("Núm. Ext.", "exterior_number"),
            ("TELÉFONO", "phone"),
        ],
    )
    def test_synonyms_match_ignoring_case_and_accents(self, header: str, field: str):
        assert map_columns([header]).fields == {field: 0}

    def test_repeated_header_is_kept_apart(self):
        columns = map_columns(["No. de Crédito", "Teléfono", "Teléfono"])
        assert columns.fields["phone"] == 1
        assert columns.extras == {"telefono_2": 2}
        assert columns.renamed == [RenamedColumn("Teléfono", "C", "telefono_2")]

    def test_normalize_header_folds_punctuation(self):
        assert normalize_header("  Días de   Atraso ") == "dias de atraso"


class TestValues:
    @pytest.mark.parametrize(
        ("text", "amount"),
        [
            ("1.234,56", Decimal("1234.56")),
            ("1,234.56", Decimal("1234.56")),
            ("$12,345.67", Decimal("12345.67")),
            ("1,234", Decimal("1234.00")),
            ("$12,345", Decimal("12345.00")),
            ("1234,5", Decimal("1234.50")),
            ("1,234,567", Decimal("1234567.00")),
            ("1.234.567", Decimal("1234567.00")),
            (980.1, Decimal("980.10")),
        ],
    )
    def test_money_formats(self, text: object, amount: Decimal):
        assert parse_money(text) == amount

    def test_negative_balance_rejected(self):
        with pytest.raises(ValueProblem, match="negative"):
            parse_money("-5")

    def test_postal_code_restores_leading_zero(self):
        assert parse_postal_code(6600.0) == "06600"
        assert parse_postal_code("01000") == "01000"

    def test_postal_code_with_letters_rejected(self):
        with pytest.raises(ValueProblem, match="five-digit"):
            parse_postal_code("CP 06600")

    def test_phone_becomes_e164(self):
        assert parse_phone("55 1234 5678") == "+525512345678"

    def test_zero_zero_is_missing(self):
        assert check_location(0, 0)[:2] == (None, None)

    def test_swapped_coordinates_fixed(self):
        lat, lon, warning = check_location(-99.1332, 19.4326)
        assert (lat, lon) == (19.4326, -99.1332)
        assert warning is not None and "swapped" in warning


class TestParseFile:
    def test_detects_format_by_content(self):
        assert detect_format(xlsx_bytes([])) == "xlsx"
        assert detect_format(csv_bytes([])) == "csv"

    def test_header_found_below_title_rows(self):
        parsed = parse_file(xlsx_bytes([account_row("A1")], title_rows=2), max_rows=10)
        assert parsed.header_row_number == 3
        assert parsed.rows[0].row_number == 4
        assert parsed.rows[0].account is not None
        assert parsed.rows[0].account.postal_code == "06600"

    def test_semicolon_cp1252_csv(self):
        content = csv_bytes(
            [account_row("B7", name="José Muñoz", balance="1.234,56")],
            delimiter=";",
            encoding="cp1252",
        )
        account = parse_file(content, max_rows=10).rows[0].account
        assert account is not None
        assert account.debtor_name == "José Muñoz"
        assert account.balance_overdue == Decimal("1234.56")

    def test_bad_row_reports_excel_row_and_column(self):
        content = xlsx_bytes([account_row("A1"), account_row("A2", balance="mucho")])
        rows = parse_file(content, max_rows=10).rows
        assert rows[0].account is not None
        assert rows[1].account is None
        assert rows[1].row_number == 3
        assert rows[1].issues[0].column == "balance_overdue"
        assert rows[1].issues[0].value == "mucho"

    def test_bad_phone_is_a_warning_and_keeps_account(self):
        rows = parse_file(
            xlsx_bytes([account_row("A1", phone="123")]), max_rows=10
        ).rows
        assert rows[0].account is not None
        assert rows[0].account.phone is None
        assert rows[0].issues[0].severity == "warning"

    def test_missing_required_column_rejected(self):
        content = ",".join(h for h in HEADERS if h != "Nombre del Titular").encode()
        with pytest.raises(UnreadableFileError, match="debtor_name"):
            parse_file(content + b"\r\nA1,1", max_rows=10)

    def test_row_limit_enforced(self):
        content = xlsx_bytes([account_row(f"K{i}") for i in range(30)])
        with pytest.raises(UnreadableFileError, match="limit is 5"):
            parse_file(content, max_rows=5)


class TestAmbiguousMoney:
    def test_three_decimals_rejected(self):
        with pytest.raises(ValueProblem, match="at most two decimals"):
            parse_money("1.2345")

    @pytest.mark.parametrize("text", ["1.234", "$12.345", "-1.234"])
    def test_one_dot_group_of_three_is_ambiguous(self, text: str):
        with pytest.raises(ValueProblem, match=f"{re.escape(text)} is ambiguous"):
            parse_money(text)

    @pytest.mark.parametrize(
        "text", ["1,23,456", "12,34.5", "1.234.56", "1,2345.6", "1.23,45,6"]
    )
    def test_malformed_grouping_rejected(self, text: str):
        with pytest.raises(ValueProblem, match=f"{re.escape(text)} has malformed"):
            parse_money(text)

    @pytest.mark.parametrize("text", ["1e3", "1E3", "2.5e2"])
    def test_exponent_amount_rejected(self, text: str):
        with pytest.raises(ValueProblem, match=f"{text} is written with an exponent"):
            parse_money(text)

    @pytest.mark.parametrize("text", ["1e3", "4.5", "inf"])
    def test_days_in_other_forms_rejected(self, text: str):
        with pytest.raises(ValueProblem, match=f"not {text}"):
            parse_days(text)

    def test_days_with_zero_fraction_read(self):
        assert parse_days("45.0") == 45

    def test_excel_float_rounded_to_cents(self):
        assert parse_money(12500.499999999) == Decimal("12500.50")


class TestRepeatedHeaders:
    def test_third_copy_numbered_three(self):
        columns = map_columns(["Teléfono", "Teléfono", "Teléfono", "Notas", "Notas"])
        assert columns.fields == {"phone": 0}
        assert columns.extras == {
            "telefono_2": 1,
            "telefono_3": 2,
            "Notas": 3,
            "notas_2": 4,
        }


class TestMoneyCurrency:
    def test_tenant_currency_code_accepted(self):
        assert parse_money("1,200.00 MXN", currency="MXN") == Decimal("1200.00")

    def test_other_currency_rejected(self):
        with pytest.raises(ValueProblem, match="in USD but the tenant's currency"):
            parse_money("USD 1,200.00", currency="MXN")

    def test_word_is_not_a_currency(self):
        with pytest.raises(ValueProblem, match="expected an amount"):
            parse_money("doce mil", currency="MXN")


class TestNames:
    def test_spaces_collapsed_accents_composed(self):
        decomposed = "  Jose\u0301   Nun\u0303ez\u00a0 "
        assert as_text(decomposed) == "Jos\u00e9 Nu\u00f1ez"


class TestCompetingColumns:
    def test_specific_synonym_wins(self):
        columns = map_columns(
            ["Cuenta", "Nombre", "Nombre del Titular", "Saldo", "Saldo Vencido"]
        )

        assert columns.fields["balance_overdue"] == 4
        assert columns.fields["debtor_name"] == 2
        assert columns.extras == {"Nombre": 1, "Saldo": 3}

    def test_notice_names_both_and_mapping(self):
        columns = map_columns(["Cuenta", "Nombre", "Saldo", "Saldo Vencido"])

        assert len(columns.notices) == 1
        notice = columns.notices[0]
        assert "'Saldo Vencido' (D)" in notice
        assert "'Saldo' (C)" in notice
        assert "'Saldo Vencido' was used" in notice
        assert '{"Saldo": "balance_overdue"}' in notice

    def test_mapping_overrides_rank(self):
        columns = map_columns(
            ["Cuenta", "Nombre", "Saldo", "Saldo Vencido"],
            {"Saldo": "balance_overdue"},
        )

        assert columns.fields["balance_overdue"] == 2
        assert columns.notices == []

    def test_repeated_header_no_notice(self):
        columns = map_columns(["Cuenta", "Nombre", "Teléfono", "Teléfono"])

        assert columns.notices == []


def test_competing_notice_reaches_report():
    content = (
        "Cuenta,NUM_CUENTA,Nombre,Nombre del Titular,Saldo,Saldo Vencido\n"
        "A1,A1,Ana,Ana López,1000,250\n"
    ).encode()

    parsed = parse_file(content, max_rows=10)

    account = parsed.rows[0].account
    assert account.balance_overdue == Decimal("250.00")
    assert account.debtor_name == "Ana López"
    assert any("'Saldo' (E)" in notice for notice in parsed.notices)
    assert any("'Nombre' (C)" in notice for notice in parsed.notices)
    assert any("'NUM_CUENTA' (B)" in notice for notice in parsed.notices)
