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
    open_file,
    parse_file,
)
from ingest.uploads.progress import STAGED_PERCENT, UploadProgress, report_cells
from ingest.uploads.rows import ParsedRow
from tests.fixtures.portfolios import HEADERS, account_row, csv_bytes, xlsx_bytes

MAX_ROWS = 5
# Rows a file may have: the data rows plus the rows a header may sit below.
ROW_LIMIT = MAX_ROWS + HEADER_SEARCH_ROWS


def keys(count: int) -> list[list[object]]:
    return [account_row(f"K{number}") for number in range(count)]


class TestRowLimit:
    def test_csv_at_limit_is_read(self):
        parsed = parse_file(csv_bytes(keys(MAX_ROWS)), max_rows=MAX_ROWS)
        assert len(parsed.rows) == MAX_ROWS

    def test_csv_past_limit_rejected(self):
        with pytest.raises(UnreadableFileError, match="the limit is 5 data rows"):
            parse_file(csv_bytes(keys(MAX_ROWS + 1)), max_rows=MAX_ROWS)

    def test_rows_above_header_not_counted(self):
        content = b"Cartera\r\nLote 7\r\n\r\n" + csv_bytes(keys(MAX_ROWS))
        parsed = parse_file(content, max_rows=MAX_ROWS)
        assert len(parsed.rows) == MAX_ROWS

    def test_blank_and_totals_rows_not_counted(self):
        rows = [*keys(MAX_ROWS), [None] * len(HEADERS), ["Total", "", 1000]]
        parsed = parse_file(csv_bytes(rows), max_rows=MAX_ROWS)
        assert len(parsed.rows) == MAX_ROWS
        assert len(parsed.skipped) == 1

    def test_blank_lines_past_limit_ignored(self):
        content = csv_bytes(keys(MAX_ROWS)) + b",,,\r\n" * 3000
        parsed = parse_file(content, max_rows=MAX_ROWS)
        assert len(parsed.rows) == MAX_ROWS
        assert parsed.notices == []

    def test_value_after_blank_lines_past_limit_rejected(self):
        content = csv_bytes(keys(MAX_ROWS)) + b"\r\n" * 500 + b"K-late,Ana\r\n"
        with pytest.raises(UnreadableFileError, match="the limit is 5 data rows"):
            parse_file(content, max_rows=MAX_ROWS)

    def test_unreadable_record_past_limit_rejected(self):
        # A cell longer than csv's field size limit makes the record unreadable.
        content = csv_bytes(keys(MAX_ROWS)) + b"K-late," + b"x" * 200_000
        with pytest.raises(UnreadableFileError, match="the limit is 5 data rows"):
            parse_file(content, max_rows=MAX_ROWS)

    def test_xlsx_past_limit_rejected(self):
        with pytest.raises(UnreadableFileError, match="the limit is 5 data rows"):
            parse_file(xlsx_bytes(keys(MAX_ROWS + 1)), max_rows=MAX_ROWS)


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


class TestOpenFile:
    @pytest.mark.parametrize("file_format", ["csv", "xlsx"])
    def test_rows_come_with_their_cells(self, file_format: str):
        rows = [account_row("A1"), account_row("A2", phone="123"), account_row("A3")]
        if file_format == "csv":
            content = b"Cartera\r\n" + csv_bytes(rows)
        else:
            content = xlsx_bytes(rows, title_rows=1)
        opened = open_file(content, max_rows=MAX_ROWS)
        assert opened.header_row_number == 2

        read = list(opened.rows)

        assert [row.parsed.row_number for row in read] == [3, 4, 5]
        assert read[0].cells[0] == "A1"
        assert read[2].cells[0] == "A3"
        assert read[1].parsed.issues
        assert read[1].cells[11] == "123"

    def test_header_checked_before_any_row_is_read(self):
        content = b"Nada,Nada\r\n1,2\r\n"
        with pytest.raises(UnreadableFileError, match="no header row found"):
            open_file(content, max_rows=MAX_ROWS)

    def test_row_limit_raised_while_reading(self):
        content = csv_bytes(keys(ROW_LIMIT + 1))
        opened = open_file(content, max_rows=MAX_ROWS)
        with pytest.raises(UnreadableFileError, match="more than"):
            list(opened.rows)

    def test_header_without_data_raised_at_the_end(self):
        opened = open_file(csv_bytes([]), max_rows=MAX_ROWS)
        with pytest.raises(UnreadableFileError, match="no data rows follow"):
            list(opened.rows)

    def test_skipped_and_notices_fill_while_reading(self):
        content = csv_bytes(
            [account_row("A1"), [""] * len(HEADERS), account_row("A2"), ["Total"]]
        )
        opened = open_file(content, max_rows=MAX_ROWS)
        assert opened.skipped == []
        list(opened.rows)
        assert [item.row_number for item in opened.skipped] == [5]
        assert any("row 3 is blank" in notice for notice in opened.notices)


class TestProgress:
    def test_rows_counted(self):
        progress = UploadProgress()
        rows = [
            account_row("A1"),
            account_row("A2", balance="mucho"),
            account_row("A3"),
        ]
        parse_file(csv_bytes(rows), max_rows=MAX_ROWS, progress=progress.on_row)
        assert progress.rows_read == 3
        assert progress.rows_invalid == 1
        assert progress.rows_valid == 2

    def test_report_cells_cut_and_without_nul(self):
        cells = report_cells(["Ana\x00 Ruiz", None, 12.5, "x" * 5000])
        assert cells[:3] == ["Ana Ruiz", None, "12.5"]
        assert cells[3] == "x" * 1000

    def test_percent_rises_below_staged_share(self):
        progress = UploadProgress()
        percents: list[int] = []

        def record(row: ParsedRow, last_row: int) -> None:
            assert last_row >= row.row_number
            progress.on_row(row, last_row)
            percents.append(progress.percent)

        rows = [account_row(f"P{number}", name="x" * 3000) for number in range(200)]
        parse_file(csv_bytes(rows), max_rows=1000, progress=record)
        assert percents == sorted(percents)
        assert percents[0] < STAGED_PERCENT // 2
        # The last chunk is still to be placed and staged.
        assert percents[-1] == STAGED_PERCENT - 1
        progress.on_staged()
        assert progress.percent == STAGED_PERCENT


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
