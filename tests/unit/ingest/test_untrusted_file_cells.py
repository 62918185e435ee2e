"""Rows and cells of files that other programs damaged or padded."""

import io
import json
import random
import zipfile

import pytest
import xlsxwriter

from ingest.accounts.bulk import _open_items
from ingest.accounts.bulk_schemas import BulkRequest
from ingest.uploads.normalize import ValueProblem, parse_money
from ingest.uploads.parsing import UnreadableFileError, parse_file
from ingest.uploads.progress import UploadProgress
from tests.fixtures import hostile_files
from tests.fixtures.portfolios import account_row, xlsx_bytes


def workbook(rows: list[list[object]]) -> bytes:
    """Write the rows from A1 into a workbook, numbers as numbers."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Cartera")
    for index, row in enumerate(rows):
        sheet.write_row(index, 0, row)
    book.close()
    return buffer.getvalue()


RAGGED_HEADER = "Cuenta,Nombre,Saldo,Días de Atraso,Calle,Colonia,CP,Estado"


def parse_csv(lines: list[str], encoding: str = "utf-8"):
    content = ("\r\n".join(lines) + "\r\n").encode(encoding)
    return parse_file(content, max_rows=100)


class TestRaggedCsvRows:
    def test_short_row_keeps_missing_fields(self):
        [row] = parse_csv([RAGGED_HEADER, "R1,Ana,150"]).rows

        assert row.account is not None
        assert row.account.balance_overdue is not None
        kept = row.account.kept_fields
        assert {"days_past_due", "street", "colonia", "postal_code"} <= kept
        assert "state" in kept
        assert "balance_overdue" not in kept

    def test_short_row_gets_one_warning(self):
        [row] = parse_csv([RAGGED_HEADER, "R1,Ana,150"]).rows

        [issue] = row.issues
        assert issue.severity == "warning"
        assert issue.column == "days_past_due"
        assert "row 2 has 3 cells but the header has 8" in issue.message

    def test_full_row_keeps_nothing_extra(self):
        [row] = parse_csv([RAGGED_HEADER, "R1,Ana,150,30,a,b,06000,CDMX"]).rows

        assert row.issues == []
        assert row.account is not None
        assert "street" not in row.account.kept_fields

    def test_trailing_blank_header_cells_ignored(self):
        [row] = parse_csv(["Cuenta,Nombre,Saldo,,", "R1,Ana,150"]).rows

        assert row.issues == []

    def test_long_row_names_ignored_cells(self):
        line = "R2,Ana,100,30,a,b,06000,CDMX,x,,z"
        [row] = parse_csv([RAGGED_HEADER, line]).rows

        assert row.account is not None
        [issue] = row.issues
        assert issue.severity == "warning"
        assert issue.column == "I"
        assert issue.value == "x"
        assert "row 2 has 11 cells but the header has 8" in issue.message
        assert "I2, K2" in issue.message

    def test_long_row_of_blank_cells_passes(self):
        [row] = parse_csv([RAGGED_HEADER, "R2,Ana,100,30,a,b,06000,CDMX,,"]).rows

        assert row.issues == []


MIXED_HEADER = (
    "Cuenta,Nombre,Saldo,Días de Atraso,Calle,Colonia,CP,Alcaldía / Municipio"
)


def mixed_encoding_csv(row: str) -> bytes:
    """A UTF-8 file with one row saved as cp1252, as when rows are pasted in."""
    good = "MX1,María López,1500,45,Reforma 10,Juárez,06600,Cuauhtémoc"
    return (
        (MIXED_HEADER + "\r\n" + good + "\r\n").encode("utf-8")
        + row.encode("cp1252")
        + b"\r\n"
    )


class TestUndecodableCells:
    def test_mixed_file_reads_header_as_utf8(self):
        parsed = parse_file(
            mixed_encoding_csv("MX2,Ana,2000,60,Insurgentes 5,Roma,06700,Cuauhtémoc"),
            max_rows=10,
        )

        assert "Alcaldía / Municipio" in parsed.columns.headers.values()
        assert parsed.rows[0].account is not None
        assert parsed.rows[0].account.debtor_name == "María López"

    def test_undecodable_name_rejects_row(self):
        content = mixed_encoding_csv("MX2,José Pérez,2000,60,Insurgentes 5,Roma,06700,")
        row = parse_file(content, max_rows=10).rows[1]

        assert row.account is None
        [issue] = row.issues
        assert issue.column == "debtor_name"
        assert issue.severity == "error"
        assert "cell B3" in issue.message
        assert "save the file as CSV UTF-8" in issue.message

    def test_undecodable_optional_cell_is_left_out(self):
        content = mixed_encoding_csv(
            "MX2,Jose,2000,60,Insurgentes 5,Roma,06700,Cuauhtémoc"
        )
        row = parse_file(content, max_rows=10).rows[1]

        assert row.account is not None
        assert row.account.municipality is None
        assert "municipality" in row.account.kept_fields
        [issue] = row.issues
        assert issue.column == "municipality"
        assert issue.severity == "warning"
        assert "cell H3" in issue.message

    def test_unmappable_cp1252_bytes_keep_header(self):
        header = (MIXED_HEADER + "\r\n").encode("utf-8")
        content = header + b"X1,\x81\x8d\x8f\x90\x9d,100,1,a,b,06000,c\r\n"
        parsed = parse_file(content, max_rows=10)

        assert "Días de Atraso" in parsed.columns.headers.values()
        [row] = parsed.rows
        assert row.account is None
        assert row.issues[0].column == "debtor_name"

    def test_cp1252_file_still_decoded(self):
        content = (
            MIXED_HEADER + "\r\nC1,José Pérez,1,2,a,b,06000,Cuauhtémoc\r\n"
        ).encode("cp1252")
        [row] = parse_file(content, max_rows=10).rows

        assert row.issues == []
        assert row.account is not None
        assert row.account.debtor_name == "José Pérez"


class TestNumericKeys:
    @pytest.mark.parametrize(
        ("key", "shown"),
        [
            (1e19, "10000000000000000000"),
            (1e15, "1000000000000000"),
            (2.0**53, "9007199254740992"),
            (1234.5, "1234.5"),
        ],
    )
    def test_inexact_numeric_key_rejects_row(self, key: float, shown: str):
        [row] = parse_file(xlsx_bytes([account_row(key)]), max_rows=10).rows

        assert row.account is None
        [issue] = row.issues
        assert issue.column == "credit_number"
        assert issue.value == shown
        assert f"cell A2 (credit_number) contains the number {shown}" in issue.message
        assert "format the column as text in Excel" in issue.message

    def test_fifteen_digit_key_is_kept(self):
        [row] = parse_file(xlsx_bytes([account_row(999999999999999)]), max_rows=10).rows

        assert row.issues == []
        assert row.account is not None
        assert row.account.account_key == "999999999999999"

    def test_inexact_credit_number_rejects_row(self):
        content = workbook(
            [
                ["Cuenta", "Nombre", "No. de Crédito"],
                ["A1", "Ana", 1.2345678901234567e19],
            ]
        )
        [row] = parse_file(content, max_rows=10).rows

        assert row.account is None
        [issue] = row.issues
        assert issue.column == "credit_number"
        assert "cell C2 (credit_number)" in issue.message


def error_cell_workbook(error: str, *, with_formula: bool) -> bytes:
    """A workbook whose C2, the balance, is an Excel error cell."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Cartera")
    sheet.write_row(0, 0, ["Cuenta", "Nombre", "Saldo", "Notas"])
    sheet.write_row(1, 0, ["E1", "Ana"])
    sheet.write_formula(1, 2, "=1/0", None, error)
    sheet.write_row(2, 0, ["E2", "Ana", 100])
    sheet.write_formula(2, 3, "=NA()", None, "#N/A")
    book.close()
    content = buffer.getvalue()
    if with_formula:
        return content
    return hostile_files._rewrite_member(
        content,
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace(b"<f>1/0</f>", b"").replace(b"<f>NA()</f>", b""),
    )


class TestExcelErrorCells:
    @pytest.mark.parametrize("with_formula", [True, False])
    @pytest.mark.parametrize("error", ["#DIV/0!", "#N/A", "#VALUE!", "#REF!"])
    def test_error_cell_rejects_row(self, error: str, with_formula: bool):
        content = error_cell_workbook(error, with_formula=with_formula)
        row = parse_file(content, max_rows=10).rows[0]

        assert row.account is None
        [issue] = row.issues
        assert issue.column == "balance_overdue"
        assert issue.value == error
        assert f"cell C2 (balance_overdue) contains the Excel error {error}" in (
            issue.message
        )

    def test_error_in_extra_is_left_out(self):
        content = error_cell_workbook("#DIV/0!", with_formula=True)
        row = parse_file(content, max_rows=10).rows[1]

        assert row.account is not None
        assert row.account.extra == {}
        [issue] = row.issues
        assert issue.severity == "warning"
        assert "cell D3 (Notas)" in issue.message

    def test_error_text_in_csv_rejects_row(self):
        [row] = parse_csv(["Cuenta,Nombre,Saldo", "E1,Ana,#N/A"]).rows

        assert row.account is None
        assert row.issues[0].column == "balance_overdue"
        assert "Excel error #N/A" in row.issues[0].message

    def test_hash_in_text_is_kept(self):
        [row] = parse_csv(["Cuenta,Nombre,Calle", "E1,Ana,Reforma #12"]).rows

        assert row.issues == []
        assert row.account is not None
        assert row.account.street == "Reforma #12"


class TestAmountShapes:
    @pytest.mark.parametrize("amount", [100.005, 1e-7, 0.125])
    def test_sub_cent_float_rejected(self, amount: float):
        with pytest.raises(ValueProblem, match="more than two decimals"):
            parse_money(amount)

    @pytest.mark.parametrize(
        ("amount", "expected"),
        [
            (116.00000000000001, "116.00"),
            (0.1 + 0.2, "0.30"),
            (12500.5, "12500.50"),
            (-1e-12, "0.00"),
        ],
    )
    def test_float_noise_rounds_to_cents(self, amount: float, expected: str):
        assert str(parse_money(amount)) == expected

    @pytest.mark.parametrize("text", ["1_000", "١٢٣", "１２３"])
    def test_non_ascii_digit_amount_rejected(self, text: str):
        [row] = parse_csv(["Cuenta,Nombre,Saldo", f"A1,Ana,{text}"]).rows

        assert row.account is None
        assert row.issues[0].column == "balance_overdue"
        assert "digits 0-9" in row.issues[0].message

    @pytest.mark.parametrize("text", ["1_000", "١٢", "１２"])
    def test_non_ascii_digit_days_rejected(self, text: str):
        [row] = parse_csv(["Cuenta,Nombre,Días de Atraso", f"A1,Ana,{text}"]).rows

        assert row.account is None
        assert row.issues[0].column == "days_past_due"

    def test_sub_cent_xlsx_amount_rejects_row(self):
        content = workbook([["Cuenta", "Nombre", "Saldo"], ["A1", "Ana", 100.005]])
        [row] = parse_file(content, max_rows=10).rows

        assert row.account is None
        assert row.issues[0].column == "balance_overdue"


class TestBulkBooleans:
    @pytest.mark.parametrize("field", ["balance_overdue", "days_past_due"])
    def test_json_boolean_rejects_item(self, field: str):
        body = {"accounts": [{"account_key": "B1", "debtor_name": "Ana", field: True}]}
        request = BulkRequest.model_validate_json(json.dumps(body))
        opened = _open_items(request.accounts, "MXN", UploadProgress())

        [row] = [data.parsed for data in opened.rows]
        assert row.account is None
        assert row.issues[0].column == field
        assert "boolean" in row.issues[0].message or "amount" in row.issues[0].message

    def test_json_sub_cent_amount_rejects_item(self):
        body = {
            "accounts": [
                {"account_key": "B1", "debtor_name": "Ana", "balance_overdue": 100.005}
            ]
        }
        request = BulkRequest.model_validate_json(json.dumps(body))
        opened = _open_items(request.accounts, "MXN", UploadProgress())

        [row] = [data.parsed for data in opened.rows]
        assert row.account is None
        assert "more than two decimals" in row.issues[0].message


class TestBlankLines:
    def test_million_blank_lines_not_counted(self):
        content = (
            b"Cuenta,Nombre,Saldo\r\nB1,Ana,100\r\n"
            + b"\r\n" * 1_000_000
            + b"B2,Luis,200\r\n"
        )
        parsed = parse_file(content, max_rows=100_000)

        assert [row.row_number for row in parsed.rows] == [2, 1_000_003]
        assert [row.account.account_key for row in parsed.rows if row.account] == [
            "B1",
            "B2",
        ]

    def test_filled_rows_past_limit_rejected(self):
        lines = ["Cuenta,Nombre,Saldo"] + [f"K{index},Ana,1" for index in range(6)]
        content = ("\r\n\r\n".join(lines) + "\r\n").encode()

        with pytest.raises(UnreadableFileError, match="more than 5 data rows"):
            parse_file(content, max_rows=5)

    def test_filled_rows_at_limit_read(self):
        lines = ["Cuenta,Nombre,Saldo"] + [f"K{index},Ana,1" for index in range(5)]
        content = ("\r\n\r\n".join(lines) + "\r\n").encode()

        assert len(parse_file(content, max_rows=5).rows) == 5


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class TestFilesThatAreNotWorkbooks:
    @pytest.mark.parametrize(
        ("content", "kind"),
        [
            (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "a PDF document"),
            (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "a PNG image"),
            (b"\x1f\x8b\x08\x00" + b"Cuenta,Nombre\n" * 3, "a gzip archive"),
        ],
    )
    def test_known_format_is_named(self, content: bytes, kind: str):
        with pytest.raises(UnreadableFileError) as raised:
            parse_file(content, max_rows=10)

        assert str(raised.value).startswith(f"the file is {kind}, not a spreadsheet")
        assert "upload an XLSX, XLS or CSV file" in str(raised.value)

    def test_random_bytes_are_binary(self):
        content = random.Random(7).randbytes(5000).replace(b"\x00", b"\x01")

        with pytest.raises(UnreadableFileError, match="the file is binary"):
            parse_file(content, max_rows=10)

    def test_zip_without_workbook_is_named(self):
        content = zip_of({"[Content_Types].xml": b"<Types/>"})

        with pytest.raises(UnreadableFileError) as raised:
            parse_file(content, max_rows=10)

        assert "a ZIP archive of 1 file with no Excel workbook" in str(raised.value)

    def test_zip_of_many_files_is_named(self):
        content = zip_of({f"f{index}": b"x" for index in range(300)})

        with pytest.raises(UnreadableFileError, match="a ZIP archive of 300 files"):
            parse_file(content, max_rows=10)

    def test_word_document_is_named(self):
        content = zip_of({"word/document.xml": b"<w:document/>"})

        with pytest.raises(UnreadableFileError, match="the file is a Word document"):
            parse_file(content, max_rows=10)

    def test_semicolon_cp1252_csv_still_read(self):
        content = "Cuenta;Nombre;Saldo\r\nA1;José Núñez;1.234,50\r\n".encode("cp1252")

        [row] = parse_file(content, max_rows=10).rows
        assert row.account is not None
        assert row.account.debtor_name == "José Núñez"
