"""Each hostile file from tests/fixtures/hostile_files.py, through parse_file."""

import io
from datetime import date
from decimal import Decimal

import pytest
import xlsxwriter

from ingest.uploads.columns import RenamedColumn
from ingest.uploads.normalize import AccountRow
from ingest.uploads.parsing import ParsedFile, UnreadableFileError, parse_file
from tests.fixtures import hostile_files


def parse(content: bytes, **options: object) -> ParsedFile:
    return parse_file(content, max_rows=1000, **options)  # type: ignore[arg-type]


def accounts(parsed: ParsedFile) -> dict[str, AccountRow]:
    return {row.account.account_key: row.account for row in parsed.rows if row.account}


def issues(parsed: ParsedFile) -> list[tuple[int, str, str | None, str, str]]:
    return [
        (row.row_number, issue.column, issue.value, issue.severity, issue.message)
        for row in parsed.rows
        for issue in row.issues
    ]


class TestLayout:
    def test_title_rows_and_merged_title(self):
        parsed = parse(hostile_files.title_rows_and_merged_title())
        assert parsed.header_row_number == 4
        assert [row.row_number for row in parsed.rows] == [5, 6]
        assert set(accounts(parsed)) == {"T-1", "T-2"}
        assert issues(parsed) == []

    def test_blank_rows_before_header(self):
        parsed = parse(hostile_files.blank_rows_before_header())
        assert parsed.header_row_number == 4
        assert accounts(parsed)["B-1"].debtor_name == "Ana López"
        assert parsed.notices == []

    def test_duplicate_headers_kept_apart(self):
        parsed = parse(hostile_files.duplicate_headers())
        account = accounts(parsed)["D-1"]
        assert account.phone == "+525512345678"
        assert account.extra == {"telefono_2": "3312345678"}
        assert parsed.columns.renamed == [RenamedColumn("Teléfono", "G", "telefono_2")]

    def test_totals_rows_skipped_not_errors(self):
        parsed = parse(hostile_files.totals_rows())
        assert set(accounts(parsed)) == {"S-1", "S-2"}
        assert [row.row_number for row in parsed.rows] == [2, 3]
        assert [skipped.row_number for skipped in parsed.skipped] == [4, 5]
        assert "TOTAL GENERAL" in parsed.skipped[0].reason
        assert "sums" in parsed.skipped[1].reason
        assert issues(parsed) == []

    def test_formatting_to_last_row_is_one_row(self):
        parsed = parse(hostile_files.formatting_to_last_row())
        assert [row.row_number for row in parsed.rows] == [2]
        assert set(accounts(parsed)) == {"L-1"}

    def test_data_after_blank_run_read_and_noted(self):
        parsed = parse(hostile_files.data_after_blank_run())
        assert [row.row_number for row in parsed.rows] == [2, 3, 14, 15]
        assert set(accounts(parsed)) == {"G-1", "G-2", "G-3", "G-4"}
        assert parsed.notices == [
            "rows 4 to 13 are blank; the rows from 14 on were read as accounts too"
        ]

    def test_data_far_past_limit_rejected(self):
        buffer = io.BytesIO()
        workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
        sheet = workbook.add_worksheet()
        sheet.write_row(0, 0, hostile_files.SHORT_HEADERS)
        sheet.write_row(1, 0, ["A-1", "Ana López"])
        sheet.write_row(59, 0, ["A-60", "Luis Pérez"])
        workbook.close()
        with pytest.raises(UnreadableFileError, match="the limit is 5 data rows"):
            parse_file(buffer.getvalue(), max_rows=5)


class TestFormulas:
    def test_saved_result_is_read(self):
        parsed = parse(hostile_files.formula_with_saved_result())
        assert accounts(parsed)["F-1"].balance_overdue == Decimal("1234.50")
        assert issues(parsed) == []

    def test_missing_result_rejects_row_naming_cell(self):
        parsed = parse(hostile_files.formula_without_saved_result())
        assert set(accounts(parsed)) == {"F-1"}
        [(row, column, value, severity, message)] = issues(parsed)
        assert (row, column, value, severity) == (3, "balance_overdue", "C3", "error")
        assert message.startswith("cell C3 holds a formula with no saved result")
        assert "recalculate" in message


class TestCsv:
    def test_semicolon_cp1252_decimal_commas(self):
        parsed = parse(hostile_files.semicolon_cp1252_decimal_commas())
        found = accounts(parsed)
        assert found["C-1"].debtor_name == "José Núñez"
        assert found["C-1"].balance_overdue == Decimal("1234.56")
        assert found["C-1"].postal_code == "06600"
        assert found["C-2"].balance_overdue == Decimal("980.10")
        assert "C-3" not in found
        [(row, column, value, severity, message)] = issues(parsed)
        assert (row, column, value, severity) == (
            4,
            "balance_overdue",
            "1.234",
            "error",
        )
        assert "1.234 is ambiguous" in message

    def test_utf8_bom_header_and_name_spacing(self):
        parsed = parse(hostile_files.utf8_bom_csv())
        account = accounts(parsed)["U-1"]
        assert account.debtor_name == "Ana María Güemes"
        assert account.phone == "+525512345678"

    def test_dollar_amounts(self):
        parsed = parse(hostile_files.dollar_amounts_csv())
        found = accounts(parsed)
        assert found["M-1"].balance_overdue == Decimal("12345.67")
        assert found["M-2"].balance_overdue == Decimal("1234567.00")
        assert [(row, column, value) for row, column, value, *_ in issues(parsed)] == [
            (4, "balance_overdue", "$12.3456")
        ]


class TestDates:
    @pytest.mark.parametrize("date_1904", [False, True])
    def test_serial_numbers_in_either_system(self, date_1904: bool):
        parsed = parse(hostile_files.serial_dates(date_1904=date_1904))
        found = accounts(parsed)
        assert found["E-1"].last_payment_date == date(2024, 1, 1)
        assert found["E-1"].birth_date == date(1985, 6, 15)
        assert found["E-2"].last_payment_date == date(1985, 6, 15)
        assert found["E-2"].birth_date == date(1985, 6, 15)

    def test_bad_dates_are_warnings(self):
        parsed = parse(hostile_files.serial_dates(date_1904=False))
        assert accounts(parsed)["E-3"].last_payment_date is None
        found = [
            (row, column, value, severity)
            for row, column, value, severity, _ in issues(parsed)
        ]
        assert found == [
            (4, "last_payment_date", "31/02/2024", "warning"),
            (4, "birth_date", "no sé", "warning"),
        ]
        assert "not a calendar date" in issues(parsed)[0][4]


class TestAddressValues:
    def test_postal_codes(self):
        parsed = parse(hostile_files.postal_codes_csv())
        found = accounts(parsed)
        assert found["P-1"].postal_code == "06600"
        assert found["P-4"].postal_code is None
        by_row = {row: (value, message) for row, _, value, _, message in issues(parsed)}
        assert set(by_row) == {3, 4, 5}
        assert by_row[3][0] == "44100"
        assert "is in Jalisco, but the row says CDMX" in by_row[3][1]
        assert "belongs to no Mexican state" in by_row[4][1]
        assert "five-digit" in by_row[5][1]
        assert all(severity == "warning" for *_, severity, _ in issues(parsed))

    def test_coordinates(self):
        parsed = parse(hostile_files.coordinates_csv())
        found = accounts(parsed)
        assert (found["K-1"].latitude, found["K-1"].longitude) == (19.4326, -99.1332)
        assert (found["K-2"].latitude, found["K-2"].longitude) == (19.4326, -99.1332)
        assert found["K-3"].latitude is None
        assert found["K-4"].latitude is None
        messages = {row: message for row, _, _, _, message in issues(parsed)}
        assert messages[3] == "latitude and longitude were swapped; fixed"
        assert messages[4].startswith("0,0 is not a real location")
        assert messages[5].startswith("coordinates out of range")

    def test_synonym_headers_and_address_details(self):
        parsed = parse(hostile_files.synonym_headers_csv())
        account = accounts(parsed)["N-1"]
        assert account.cross_streets == "Liverpool y Hamburgo"
        assert account.address_references == "Portón verde frente a la farmacia"
        assert account.interior_number == "4B"
        assert account.colonia == "Juárez"
        assert account.postal_code == "06600"
        assert account.phone == "+525512345678"
        assert account.extra == {}


class TestAccountKey:
    def test_client_id_is_key_and_credit_kept(self):
        parsed = parse(hostile_files.account_id_and_credit_number())
        found = accounts(parsed)
        assert set(found) == {"CL-1", "CL-2"}
        assert found["CL-1"].credit_number == "CR-900"

    def test_mapping_makes_credit_the_key(self):
        parsed = parse(
            hostile_files.account_id_and_credit_number(),
            mapping={"No. de Crédito": "account_key", "ID Cliente": "credit_number"},
        )
        found = accounts(parsed)
        assert set(found) == {"CR-900", "CR-901"}
        assert found["CR-900"].credit_number == "CL-1"

    def test_credit_number_alone_is_key(self):
        parsed = parse(hostile_files.credit_number_only())
        account = accounts(parsed)["CR-1"]
        assert account.credit_number == "CR-1"
        assert account.debtor_name == "Ana López"

    def test_mapping_reaches_unknown_headers(self):
        content = b"Folio interno,Acreditado,Monto\r\nX-1,Ana,5\r\n"
        parsed = parse(
            content,
            mapping={"Folio interno": "account_key", "Monto": "balance_overdue"},
        )
        account = accounts(parsed)["X-1"]
        assert account.balance_overdue == Decimal("5.00")
        assert account.debtor_name == "Ana"


class TestNotices:
    def test_many_blank_runs_summarised(self):
        lines = ["Cuenta,Nombre"]
        for index in range(30):
            lines += [f"Z-{index},Ana", ""]
        parsed = parse(("\r\n".join(lines) + "\r\n").encode())
        assert len(parsed.rows) == 30
        assert len(parsed.notices) == 21
        assert parsed.notices[0].startswith("row 3 is blank")
        assert parsed.notices[-1].startswith("9 more runs of blank rows")
