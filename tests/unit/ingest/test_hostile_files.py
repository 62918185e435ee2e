import io

import pytest
import xlsxwriter

from ingest.uploads.extent import (
    MAX_CELL_CHARACTERS,
    MAX_CELL_XML_BYTES,
    WorkbookTooLargeError,
    _check_sheet,
)
from ingest.uploads.parsing import UnreadableFileError, parse_file
from tests.fixtures import hostile_files
from tests.fixtures.portfolios import HEADERS, account_row, csv_bytes, xlsx_bytes


def only_issue(content: bytes) -> tuple[str, str]:
    row = parse_file(content, max_rows=100).rows[0]
    assert row.account is None
    return row.issues[0].column, row.issues[0].message


class TestHostileCells:
    @pytest.mark.parametrize("balance", ["NaN", "Infinity", "1e400", "10000000000000"])
    def test_unusable_balance_rejects_row(self, balance: str):
        column, message = only_issue(csv_bytes([account_row("A1", balance=balance)]))
        assert column == "balance_overdue"
        assert message

    def test_absurd_days_rejects_row(self):
        column, message = only_issue(csv_bytes([account_row("A1", days="99999999999")]))
        assert column == "days_past_due"
        assert "100 years" in message

    def test_long_account_key_rejects_row(self):
        column, message = only_issue(csv_bytes([account_row("K" * 101)]))
        assert column == "account_key"
        assert "at most 100" in message

    def test_nul_in_workbook_cell_rejects_row(self):
        column, message = only_issue(xlsx_bytes([account_row("A1", name="Ana\x00")]))
        assert column == "debtor_name"
        assert "NUL" in message

    def test_long_extra_value_is_warning(self):
        content = (
            ",".join([*HEADERS, "Notas"])
            + "\r\n"
            + ",".join(str(v) for v in account_row("A1"))
            + ","
            + "x" * 3000
            + "\r\n"
        ).encode()
        row = parse_file(content, max_rows=10).rows[0]
        assert row.account is not None
        assert "Notas" not in row.account.extra
        assert row.issues[0].severity == "warning"


class TestHostileFiles:
    def test_value_far_down_rejected_before_loading(self):
        buffer = io.BytesIO()
        workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
        sheet = workbook.add_worksheet()
        sheet.write_row(0, 0, HEADERS)
        sheet.write(1_048_575, 25, "x")
        workbook.close()
        with pytest.raises(UnreadableFileError, match="Z1048576"):
            parse_file(buffer.getvalue(), max_rows=1000)

    def test_header_only_rejected(self):
        with pytest.raises(UnreadableFileError, match="no data rows"):
            parse_file(csv_bytes([]), max_rows=10)

    def test_many_nuls_are_binary(self):
        content = csv_bytes([account_row("A1")]) + b"x" * 5000 + b"\x00" * 101
        with pytest.raises(UnreadableFileError, match="binary"):
            parse_file(content, max_rows=10)

    def test_nul_in_first_bytes_is_binary(self):
        content = b"\x00" + csv_bytes([account_row("A1")])
        with pytest.raises(UnreadableFileError, match="binary"):
            parse_file(content, max_rows=10)

    @pytest.mark.parametrize(
        "content",
        [
            hostile_files.utf16_csv(bom=True),
            hostile_files.utf16_csv(bom=False),
            hostile_files.utf16_csv(bom=False, encoding="utf-16-be"),
        ],
    )
    def test_utf16_is_named(self, content: bytes):
        with pytest.raises(UnreadableFileError, match="UTF-16 is not supported"):
            parse_file(content, max_rows=10)

    def test_utf8_with_one_bad_byte_keeps_headers(self):
        content = csv_bytes([account_row("A1", name="Ana Pérez")]) + b"\xff\r\n"
        parsed = parse_file(content, max_rows=10)
        assert parsed.rows[0].account is not None
        assert parsed.rows[0].account.debtor_name == "Ana Pérez"

    def test_damaged_zip_is_unreadable(self):
        with pytest.raises(UnreadableFileError, match="damaged"):
            parse_file(b"PK\x03\x04garbage", max_rows=10)


class TestWorkbookExtent:
    def test_unreferenced_cells_on_last_row(self):
        with pytest.raises(UnreadableFileError, match=r"cell CV1048576 .*row 1048576"):
            parse_file(hostile_files.unreferenced_cells_on_last_row(), max_rows=1000)

    def test_unreferenced_cells_past_last_column(self):
        with pytest.raises(UnreadableFileError, match=r"cell GS3 .*column 201"):
            parse_file(
                hostile_files.unreferenced_cells_past_last_column(), max_rows=1000
            )

    def test_unreferenced_row_follows_previous(self):
        # Rows may reach 1000 + 20 header rows + 1000 blank rows.
        content = hostile_files.unreferenced_row_below(2020)
        with pytest.raises(UnreadableFileError, match=r"cell A2021 .*row 2021"):
            parse_file(content, max_rows=1000)

    def test_value_past_row_limit_is_named(self):
        content = hostile_files.value_on_row(300_000)
        with pytest.raises(UnreadableFileError, match=r"cell A300000 .*row 300000"):
            parse_file(content, max_rows=100_000)


class TestLongCellText:
    def test_long_inline_string_is_named(self):
        content = hostile_files.long_inline_string(MAX_CELL_CHARACTERS + 1)
        with pytest.raises(UnreadableFileError, match=r"cell B3 .*32,768") as raised:
            parse_file(content, max_rows=100)
        assert "32,767" in str(raised.value)

    def test_inline_string_at_limit_is_read(self):
        content = hostile_files.long_inline_string(MAX_CELL_CHARACTERS)
        parsed = parse_file(content, max_rows=100)
        assert parsed.rows[1].row_number == 3

    def test_long_rich_text_is_named(self):
        content = hostile_files.long_rich_text_inline_string(5, 7000)
        with pytest.raises(UnreadableFileError, match=r"cell B3 .*35,000"):
            parse_file(content, max_rows=100)

    def test_long_shared_string_is_named(self):
        content = hostile_files.long_shared_string(MAX_CELL_CHARACTERS + 1)
        with pytest.raises(UnreadableFileError, match=r"shared string 7 .*32,768"):
            parse_file(content, max_rows=100)

    def test_shared_string_entities_count_once(self):
        content = hostile_files.long_shared_string(MAX_CELL_CHARACTERS)
        parsed = parse_file(content, max_rows=100)
        assert parsed.rows[0].row_number == 2

    def test_unclosed_cell_is_rejected_while_streaming(self):
        xml = (
            b'<worksheet><sheetData><row r="1"><c r="A1"><v>1</v></c>'
            b'<c r="B1" t="inlineStr"><is><t>' + b"A" * (4 * 1024 * 1024)
        )
        stream = io.BytesIO(xml)
        with pytest.raises(WorkbookTooLargeError, match=r"cell B1 .*more than 32,767"):
            _check_sheet(stream, max_rows=100, chunk_bytes=64 * 1024)
        # The scan stops soon after the limit, without reading the rest.
        assert stream.tell() < MAX_CELL_XML_BYTES + 2 * 64 * 1024


class TestCsvBadCells:
    def test_nul_in_cell_rejects_only_row(self):
        parsed = parse_file(
            hostile_files.csv_with_bad_cell("Ana\x00Pérez"), max_rows=10
        )
        assert [row.row_number for row in parsed.rows] == [2, 3, 4]
        assert parsed.rows[0].account is not None
        assert parsed.rows[1].account is None
        assert parsed.rows[1].issues[0].column == "debtor_name"
        assert "NUL" in parsed.rows[1].issues[0].message
        assert parsed.rows[2].account is not None

    def test_huge_cell_rejects_only_row(self):
        parsed = parse_file(
            hostile_files.csv_with_bad_cell("x" * 1_000_000), max_rows=10
        )
        assert [row.row_number for row in parsed.rows] == [2, 3, 4]
        assert parsed.rows[0].account is not None
        assert parsed.rows[1].account is None
        assert parsed.rows[1].issues[0].column == "debtor_name"
        assert "131,072 characters" in parsed.rows[1].issues[0].message
        assert parsed.rows[2].account is not None
        assert parsed.rows[2].account.account_key == "C-3"

    def test_huge_last_row_is_kept(self):
        content = csv_bytes([account_row("A1"), account_row("B2", name="x" * 200_000)])
        parsed = parse_file(content, max_rows=10)
        assert [row.row_number for row in parsed.rows] == [2, 3]
        assert parsed.rows[1].account is None


class TestCsvColumnLimit:
    def test_wide_header_is_rejected(self):
        with pytest.raises(UnreadableFileError, match=r"row 1 has 3002 columns.*200"):
            parse_file(hostile_files.wide_csv(3000), max_rows=10)

    def test_columns_at_limit_are_read(self):
        parsed = parse_file(hostile_files.wide_csv(198), max_rows=10)
        assert parsed.rows[0].account is not None

    def test_trailing_empty_fields_pass(self):
        content = csv_bytes([account_row("A1")]).replace(b"\r\n", b"," * 300 + b"\r\n")
        parsed = parse_file(content, max_rows=10)
        assert parsed.rows[0].account is not None


class TestTotalsRows:
    def test_totals_like_keys_stay_accounts(self):
        parsed = parse_file(hostile_files.totals_like_keys_csv(), max_rows=10)
        keys = [row.account.account_key for row in parsed.rows if row.account]
        assert keys == ["TOTAL 2", "Suma-7"]

    def test_totals_labels_are_skipped(self):
        parsed = parse_file(hostile_files.totals_like_keys_csv(), max_rows=10)
        assert [skipped.row_number for skipped in parsed.skipped] == [4, 5, 6, 7]


class TestInvisibleCharacters:
    def test_keys_are_cleaned_and_normalized(self):
        parsed = parse_file(hostile_files.look_alike_keys_csv(), max_rows=10)
        keys = [row.account.account_key for row in parsed.rows if row.account]
        assert keys == ["Z1", "Z1", "Z1", "Z1", "z1"]

    def test_name_is_cleaned(self):
        parsed = parse_file(hostile_files.look_alike_keys_csv(), max_rows=10)
        assert parsed.rows[0].account is not None
        assert parsed.rows[0].account.debtor_name == "Ana López"

    def test_removal_is_a_warning_naming_row(self):
        parsed = parse_file(hostile_files.look_alike_keys_csv(), max_rows=10)
        [issue] = parsed.rows[1].issues
        assert issue.severity == "warning"
        assert "row 3" in issue.message
        assert "account_key, debtor_name" in issue.message
