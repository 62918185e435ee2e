"""Files parsed as they are read: row limit, blank rows, row numbers, progress."""

import io

import pytest

from ingest.uploads.compact import NO_EXTRA
from ingest.uploads.extent import (
    WorkbookTooLargeError,
    _BoundedReader,
    _check_sheet,
    _ReadAhead,
)
from ingest.uploads.parsing import (
    HEADER_SEARCH_ROWS,
    UnreadableFileError,
    parse_file,
    read_row_cells,
)
from ingest.uploads.progress import PARSED_PERCENT, UploadProgress
from ingest.uploads.rows import ParsedRow
from tests.fixtures.portfolios import HEADERS, account_row, csv_bytes, xlsx_bytes

MAX_ROWS = 5
# Rows a file may have: the data rows plus the rows a header may sit below.
ROW_LIMIT = MAX_ROWS + HEADER_SEARCH_ROWS


def keys(count: int) -> list[list[object]]:
    return [account_row(f"K{number}") for number in range(count)]


class TestRowLimit:
    def test_csv_at_limit_is_read(self):
        # The header is row 1, so ROW_LIMIT - 1 data rows fill the limit.
        parsed = parse_file(csv_bytes(keys(ROW_LIMIT - 1)), max_rows=MAX_ROWS)
        assert len(parsed.rows) == ROW_LIMIT - 1

    def test_csv_past_limit_rejected(self):
        with pytest.raises(UnreadableFileError, match="the limit is 5 data rows"):
            parse_file(csv_bytes(keys(ROW_LIMIT)), max_rows=MAX_ROWS)

    def test_blank_lines_past_limit_ignored(self):
        content = csv_bytes(keys(ROW_LIMIT - 1)) + b",,,\r\n" * 3000
        parsed = parse_file(content, max_rows=MAX_ROWS)
        assert len(parsed.rows) == ROW_LIMIT - 1
        assert parsed.notices == []

    def test_value_after_blank_lines_past_limit_rejected(self):
        content = csv_bytes(keys(ROW_LIMIT - 1)) + b"\r\n" * 500 + b"K-late,Ana\r\n"
        with pytest.raises(UnreadableFileError, match="more than 25 rows"):
            parse_file(content, max_rows=MAX_ROWS)

    def test_unreadable_record_past_limit_rejected(self):
        # A cell longer than csv's field size limit makes the record unreadable.
        content = csv_bytes(keys(ROW_LIMIT - 1)) + b"K-late," + b"x" * 200_000
        with pytest.raises(UnreadableFileError, match="more than 25 rows"):
            parse_file(content, max_rows=MAX_ROWS)

    def test_xlsx_past_limit_rejected(self):
        with pytest.raises(UnreadableFileError, match="the limit is 5 data rows"):
            parse_file(xlsx_bytes(keys(ROW_LIMIT)), max_rows=MAX_ROWS)


class TestRowNumbers:
    def test_csv_rows_numbered_as_excel_shows(self):
        title = b"Cartera de prueba,,,\r\n\r\n"
        rows = [account_row("A1"), [None] * len(HEADERS), account_row("A2", days="x")]
        parsed = parse_file(title + csv_bytes(rows), max_rows=MAX_ROWS)
        assert parsed.header_row_number == 3
        assert [row.row_number for row in parsed.rows] == [4, 6]
        assert parsed.rows[1].account is None

    def test_quoted_line_break_is_one_row(self):
        content = csv_bytes([account_row("A1"), account_row("A2", days="x")])
        content = content.replace(b"Av. Insurgentes Sur", b'"Av.\r\nInsurgentes"', 1)
        parsed = parse_file(content, max_rows=MAX_ROWS)
        assert parsed.rows[0].account is not None
        assert parsed.rows[0].account.street == "Av. Insurgentes"
        assert parsed.rows[1].row_number == 3

    def test_blank_file_is_empty(self):
        with pytest.raises(UnreadableFileError, match="the file is empty"):
            parse_file(b",,,\r\n" * 40, max_rows=MAX_ROWS)

    def test_header_below_search_rows_not_found(self):
        content = b"\r\n" * HEADER_SEARCH_ROWS + csv_bytes(keys(1))
        with pytest.raises(UnreadableFileError, match="no header row found"):
            parse_file(content, max_rows=MAX_ROWS)


class TestReadRowCells:
    @pytest.mark.parametrize("file_format", ["csv", "xlsx"])
    def test_cells_match_the_parsed_rows(self, file_format: str):
        rows = [account_row("A1"), account_row("A2", phone="123"), account_row("A3")]
        if file_format == "csv":
            content = b"Cartera\r\n" + csv_bytes(rows)
        else:
            content = xlsx_bytes(rows, title_rows=1)
        parsed = parse_file(content, max_rows=MAX_ROWS)
        assert [row.row_number for row in parsed.rows] == [3, 4, 5]

        cells = read_row_cells(content, [5, 3], max_rows=MAX_ROWS)

        assert sorted(cells) == [3, 5]
        assert cells[3][0] == "A1"
        assert cells[5][0] == "A3"
        assert cells[5][11] == "55 1234 5678"

    def test_nul_removed_from_cells(self):
        content = csv_bytes([account_row("A1", name="Ana\x00 Ruiz")])
        cells = read_row_cells(content, [2], max_rows=MAX_ROWS)
        assert cells[2][1] == "Ana Ruiz"

    def test_no_rows_requested_reads_nothing(self):
        assert read_row_cells(b"not read", [], max_rows=MAX_ROWS) == {}


class TestProgress:
    def test_cells_kept_only_for_rows_with_issues(self):
        progress = UploadProgress()
        rows = [
            account_row("A1"),
            account_row("A2", balance="mucho"),
            account_row("A3"),
        ]
        parse_file(csv_bytes(rows), max_rows=MAX_ROWS, progress=progress.on_row)
        assert progress.rows_read == 3
        assert progress.rows_invalid == 1
        assert list(progress.cells) == [3]
        assert progress.report_cells(3)[2] == "mucho"

    def test_percent_rises_to_parsed_share(self):
        progress = UploadProgress()
        percents: list[int] = []

        def record(row: ParsedRow, cells: list[object], last_row: int) -> None:
            assert last_row >= row.row_number
            progress.on_row(row, cells, last_row)
            percents.append(progress.percent)

        rows = [account_row(f"P{number}", name="x" * 3000) for number in range(200)]
        parse_file(csv_bytes(rows), max_rows=1000, progress=record)
        assert percents == sorted(percents)
        assert percents[0] < PARSED_PERCENT // 2
        assert percents[-1] == PARSED_PERCENT


class TestCompactAccounts:
    def test_repeated_values_shared(self):
        rows = [account_row("A1"), account_row("A2"), account_row("A3", phone="1")]
        parsed = parse_file(csv_bytes(rows), max_rows=MAX_ROWS)
        first, second, third = (row.account for row in parsed.rows)
        assert first is not None
        assert second is not None
        assert third is not None
        assert first.state is second.state
        assert first.municipality is second.municipality
        assert first.kept_fields is second.kept_fields
        assert first.extra is NO_EXTRA
        # A phone left out with a warning is one more kept field.
        assert third.kept_fields == first.kept_fields | {"phone"}


class TestReadAhead:
    def test_chunks_arrive_in_order(self):
        data = bytes(range(256)) * 1000
        with _ReadAhead(io.BytesIO(data), chunk_bytes=1000) as stream:
            chunks = []
            while chunk := stream.read(1000):
                chunks.append(chunk)
        assert b"".join(chunks) == data

    def test_error_of_stream_raised_by_read(self):
        xml = b'<row r="1"><c r="A1"><v>1</v></c></row>' * 10_000
        stream = _BoundedReader(io.BytesIO(xml), limit=len(xml) // 2, name="sheet")
        with (
            _ReadAhead(stream, chunk_bytes=4096) as ahead,
            pytest.raises(WorkbookTooLargeError, match="sheet in the workbook"),
        ):
            _check_sheet(ahead, max_rows=100_000, chunk_bytes=4096)

    def test_early_stop_releases_worker(self):
        xml = b'<row r="1"><c r="A1"><v>1</v></c></row><row r="9"><c r="A9"><v>1'
        xml += b"</v></c></row>" + b"<row/>" * 100_000
        with (
            _ReadAhead(io.BytesIO(xml), chunk_bytes=1024) as ahead,
            pytest.raises(WorkbookTooLargeError, match="row 9"),
        ):
            _check_sheet(ahead, max_rows=5, chunk_bytes=1024)
