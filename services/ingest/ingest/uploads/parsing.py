"""Read a portfolio file into rows and turn each row into an account or issues.

The format is detected from the content, not the file name: XLSX is a ZIP archive, XLS
an OLE2 compound file, anything else is read as CSV text. The header row is the
row among the first 20 that names the most known columns, so title rows,
merged title cells and blank rows above it are passed over.
"""

import io
import itertools
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from python_calamine import CalamineWorkbook

from ingest.uploads.columns import (
    ColumnMap,
    column_letter,
    header_score,
    map_columns,
    normalize_header,
)
from ingest.uploads.compact import AccountCompactor
from ingest.uploads.csv_reader import CsvRows, RejectedRow
from ingest.uploads.extent import XlsxScan, check_xlsx_extent
from ingest.uploads.normalize import RowIssue, is_blank
from ingest.uploads.rows import ParsedRow, RowContext, parse_row

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Leading bytes of formats that people upload by mistake, and what they are.
OTHER_FORMATS = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
)
# Members whose presence marks a ZIP archive as a workbook calamine reads:
# XLSX (`xl/workbook.xml`), XLSB (`xl/workbook.bin`) and ODS (`content.xml`).
_WORKBOOK_PARTS = ("workbook.xml", "workbook.bin", "content.xml")
HEADER_SEARCH_ROWS = 20
MIN_HEADER_MATCHES = 2
# Blank rows a workbook may carry past the row limit, such as rows left
# after deleting data.
BLANK_ROWS_ALLOWED = 1000
MAX_BLANK_RUN_NOTICES = 20

# A label such as `Total`, `TOTAL GENERAL`, `Totales` or `Suma` marks a
# totals row, not an account.
_TOTALS_LABEL = re.compile(r"^(total|totales|gran total|subtotal|suma|sumas)\b")
# A key that is only a label. A key that starts with one, such as `TOTAL 2`,
# marks a totals row only when the row has no name.
_TOTALS_KEY = re.compile(
    r"^(total|totales|total general|gran total|subtotal|suma|sumas|suma total)$"
)

_NUMBER_TEXT = re.compile(r"^\s*\$?\s*-?[\d.,]+\s*$")
_ASCII_DIGIT = re.compile("[0-9]")


# Called after each data row with the parsed row and the number of the
# sheet's last row. A CSV file is read as it is parsed, so for CSV that
# number is estimated from the share of bytes read.
RowProgress = Callable[[ParsedRow, int], None]


class UnreadableFileError(ValueError):
    """The file is not a readable workbook or CSV; the message explains why."""


@dataclass(frozen=True)
class SkippedRow:
    row_number: int
    reason: str


@dataclass
class ParsedFile:
    file_format: str
    columns: ColumnMap
    header_row_number: int
    rows: list[ParsedRow]
    skipped: list[SkippedRow] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DataRow:
    """A parsed data row with the cells it was read from, for the error report."""

    parsed: ParsedRow
    cells: list[object]


@dataclass
class OpenedFile:
    """A file whose header is found, with its data rows parsed as they are read.

    `skipped` and `notices` fill up as `rows` is read. Reading `rows` raises
    UnreadableFileError for a row past the limit, and when the header has no
    data row below it.
    """

    file_format: str
    columns: ColumnMap
    header_row_number: int
    rows: Iterator[DataRow]
    skipped: list[SkippedRow] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


class RowSource(Protocol):
    """A sheet's rows from A1, returned one at a time."""

    def __iter__(self) -> Iterator[list[object]]: ...

    def fraction_read(self) -> float:
        """Return the share of the sheet read so far, from 0 to 1."""
        ...


@dataclass
class SheetRows:
    # Rows up to the row limit. Iterating raises UnreadableFileError when a
    # row past the limit contains a value or the file cannot be read.
    rows: Iterator[list[object]]
    source: RowSource
    scan: XlsxScan = field(default_factory=XlsxScan)


class _GridRows:
    """A workbook's grid as a row source, dropping each row once returned.

    Rows past the grid up to `padded_to` are returned empty.
    """

    def __init__(self, grid: list[list[object]], *, padded_to: int) -> None:
        self._grid: list[list[object] | None] = list(grid)
        self._index = 0
        self._total = max(len(self._grid), padded_to)

    def __iter__(self) -> "_GridRows":
        return self

    def __next__(self) -> list[object]:
        index = self._index
        if index >= self._total:
            raise StopIteration
        self._index += 1
        if index >= len(self._grid):
            return []
        row, self._grid[index] = self._grid[index], None
        assert row is not None
        # to_python returns lists, which are used as they are.
        return row if isinstance(row, list) else list(row)

    def fraction_read(self) -> float:
        return self._index / max(self._total, 1)


def check_not_other_format(content: bytes) -> None:
    """Raise UnreadableFileError naming a known format that is not a spreadsheet.

    Those are PDF documents, images, other archives and ZIP archives with
    no workbook in them, such as Word documents or a compressed folder.
    """
    for magic, kind in OTHER_FORMATS:
        if content.startswith(magic):
            raise UnreadableFileError(
                f"the file is {kind}, not a spreadsheet; upload an XLSX, XLS or "
                "CSV file"
            )
    if not content.startswith(ZIP_MAGIC):
        return
    try:
        names = zipfile.ZipFile(io.BytesIO(content)).namelist()
    except zipfile.BadZipFile:
        # The extent check names a damaged archive.
        return
    if any(name.lower().endswith(_WORKBOOK_PARTS) for name in names):
        return
    if "word/document.xml" in names:
        kind = "a Word document"
    elif "ppt/presentation.xml" in names:
        kind = "a PowerPoint presentation"
    else:
        files = "file" if len(names) == 1 else "files"
        kind = f"a ZIP archive of {len(names)} {files}"
    raise UnreadableFileError(
        f"the file is {kind} with no Excel workbook in it (no xl/workbook.xml); "
        "upload an XLSX, XLS or CSV file"
    )


def detect_format(content: bytes) -> str:
    if content.startswith(ZIP_MAGIC):
        return "xlsx"
    if content.startswith(OLE2_MAGIC):
        return "xls"
    return "csv"


def read_rows(
    content: bytes,
    file_format: str,
    *,
    max_rows: int,
    mapping: dict[str, str] | None = None,
) -> SheetRows:
    """Open the first sheet for reading its rows from A1, one at a time.

    The file's extent and encoding are checked here. Reading the rows raises
    UnreadableFileError for a filled row past `max_rows` data rows plus the
    rows a header may sit below.
    """
    check_not_other_format(content)
    if file_format == "csv":
        try:
            source: RowSource = CsvRows(content, mapping=mapping)
        except ValueError as error:
            raise UnreadableFileError(str(error)) from None
        rows = _within_limit(source, max_rows=max_rows, count_blank=False)
        return SheetRows(rows, source)
    return _read_workbook(content, file_format, max_rows=max_rows)


def _within_limit(
    rows: Iterable[list[object]], *, max_rows: int, count_blank: bool
) -> Iterator[list[object]]:
    """Yield the rows; raise for a filled row past the limit.

    With `count_blank`, as for a workbook, every row counts, and blank rows
    past the limit, such as rows left after deleting data, are passed over.
    Without it, as for CSV, only non-blank rows count. Each row is checked
    and dropped as it is read, so a CSV file of a million blank lines costs
    no memory beyond one row.
    """
    limit = max_rows + HEADER_SEARCH_ROWS
    counted = 0
    try:
        for row in rows:
            if count_blank:
                counted += 1
                past_limit = counted > limit and not is_blank_row(row)
            else:
                counted += not is_blank_row(row)
                past_limit = counted > limit
            if past_limit:
                blank_note = "" if count_blank else " (blank rows not counted)"
                raise UnreadableFileError(
                    f"the file has more than {limit} rows{blank_note}; the limit "
                    f"is {max_rows} data rows per upload, so split it into "
                    "several files"
                )
            yield row
    except UnreadableFileError:
        raise
    except ValueError as error:
        raise UnreadableFileError(str(error)) from None


def is_blank_row(row: list[object]) -> bool:
    """Tell whether a row has no value; a record CSV could not read is not blank."""
    if isinstance(row, RejectedRow):
        return False
    try:
        # A row of text cells, as every CSV row is, is blank when its joined
        # text is. A cell of another type makes join raise TypeError.
        joined = "".join(row)  # type: ignore[arg-type]
    except TypeError:
        return all(is_blank(cell) for cell in row)
    return not joined or joined.isspace()


def _read_workbook(content: bytes, file_format: str, *, max_rows: int) -> SheetRows:
    limit = max_rows + HEADER_SEARCH_ROWS
    # The scan runs before calamine loads the sheet, not beside it, because
    # calamine allocates the whole grid up to the last cell as it loads, and
    # the scan is what keeps that grid within the limits.
    scan = XlsxScan()
    if file_format == "xlsx":
        try:
            scan = check_xlsx_extent(content, max_rows=limit + BLANK_ROWS_ALLOWED)
        except ValueError as error:
            raise UnreadableFileError(str(error)) from None
    source = _load_grid(content, file_format, max_rows=limit, scan=scan)
    rows = _within_limit(source, max_rows=max_rows, count_blank=True)
    return SheetRows(rows, source, scan)


def _load_grid(
    content: bytes, file_format: str, *, max_rows: int, scan: XlsxScan
) -> _GridRows:
    # NOTE: legacy XLS files are not checked for their extent before
    # loading, so a crafted one can still cost memory up to its last cell.
    # Their date system is taken as 1900, which only matters for date
    # columns holding bare serial numbers.
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        sheet = workbook.get_sheet_by_index(0)
        # Reading as far as the extent check allows means a value past the
        # row limit is seen (and rejected) rather than cut off unseen.
        grid = sheet.to_python(
            skip_empty_area=False, nrows=max_rows + BLANK_ROWS_ALLOWED
        )
    except Exception as error:
        raise UnreadableFileError(
            f"the {file_format.upper()} workbook could not be read ({error}); "
            "save it again from Excel or export it as CSV"
        ) from error
    # calamine leaves out trailing cells and rows that only hold formulas
    # with no saved result; pad the grid so those rows get reported.
    last_formula_row = max((row for row, _ in scan.formulas_without_value), default=0)
    return _GridRows(grid, padded_to=last_formula_row)


def find_header(rows: list[list[object]], mapping: dict[str, str] | None) -> int:
    """Index of the header row: the first of the top rows naming most known fields."""
    best_index, best_score = -1, 0
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        score = header_score(row, mapping)
        if score > best_score:
            best_index, best_score = index, score
    if best_score < MIN_HEADER_MATCHES:
        raise UnreadableFileError(
            "no header row found in the first 20 rows; the row above the data must "
            "name the columns, e.g. 'Cuenta' or 'No. de Crédito', and 'Nombre'"
        )
    return best_index


def parse_file(
    content: bytes,
    *,
    max_rows: int,
    mapping: dict[str, str] | None = None,
    currency: str = "MXN",
    progress: RowProgress | None = None,
) -> ParsedFile:
    """Read every data row below the header; `mapping` is header -> field."""
    opened = open_file(
        content,
        max_rows=max_rows,
        mapping=mapping,
        currency=currency,
        progress=progress,
    )
    rows = [row.parsed for row in opened.rows]
    return ParsedFile(
        opened.file_format,
        opened.columns,
        opened.header_row_number,
        rows,
        opened.skipped,
        opened.notices,
    )


def open_file(
    content: bytes,
    *,
    max_rows: int,
    mapping: dict[str, str] | None = None,
    currency: str = "MXN",
    progress: RowProgress | None = None,
) -> OpenedFile:
    """Find the header and map the columns; the data rows are parsed as read.

    Raises UnreadableFileError for a file with no header row or without the
    required columns. Only the rows being read are in memory, so a caller
    that stores the rows in chunks keeps no more than a chunk in memory.
    """
    file_format = detect_format(content)
    sheet = read_rows(content, file_format, max_rows=max_rows, mapping=mapping)
    head = list(itertools.islice(sheet.rows, HEADER_SEARCH_ROWS))
    if all(map(is_blank_row, head)) and all(map(is_blank_row, sheet.rows)):
        raise UnreadableFileError(
            "the file is empty; it needs a header row and data rows"
        )
    header_index = find_header(head, mapping)
    columns = map_columns(head[header_index], mapping)
    missing = columns.missing_required()
    if missing:
        raise UnreadableFileError(
            "required columns are missing: "
            + ", ".join(missing)
            + "; name them e.g. 'Cuenta' or 'No. de Crédito', and 'Nombre', or "
            "send a column mapping"
        )
    context = RowContext(
        columns=columns,
        today=datetime.now(UTC).date(),
        currency=currency,
        date1904=sheet.scan.date1904,
        formulas_without_value=sheet.scan.formulas_without_value,
        error_cells=sheet.scan.error_cells,
        header_cells=_filled_width(head[header_index])
        if file_format == "csv"
        else None,
    )
    opened = OpenedFile(
        file_format, columns, header_index + 1, iter(()), notices=columns.notices
    )
    data_rows = itertools.chain(head[header_index + 1 :], sheet.rows)
    del head
    opened.rows = _data_rows(
        data_rows,
        max_rows=max_rows,
        # Row numbers as Excel shows them: 1-based, counting the rows above.
        first_row_number=header_index + 2,
        context=context,
        opened=opened,
        progress=_progress_reporter(progress, sheet.source),
    )
    return opened


def _filled_width(row: list[object]) -> int:
    """Return the number of cells up to the last non-blank one."""
    width = len(row)
    while width and is_blank(row[width - 1]):
        width -= 1
    return width


def _progress_reporter(
    progress: RowProgress | None, source: RowSource
) -> Callable[[ParsedRow], None] | None:
    """Wrap `progress` so it gets the sheet's last row, estimated while reading."""
    if progress is None:
        return None

    def report(row: ParsedRow) -> None:
        fraction = source.fraction_read()
        last_row = row.row_number
        if fraction > 0:
            last_row = max(last_row, round(row.row_number / fraction))
        progress(row, last_row)

    return report


def _data_rows(
    rows: Iterable[list[object]],
    *,
    max_rows: int,
    first_row_number: int,
    context: RowContext,
    opened: OpenedFile,
    progress: Callable[[ParsedRow], None] | None = None,
) -> Iterator[DataRow]:
    """Parse the data rows; raise UnreadableFileError past `max_rows` of them.

    Blank rows and totals rows are not data rows, so they do not count.
    """
    # Rows whose formulas have no value or failed, which calamine reads as
    # empty strings, so they are parsed rather than skipped as blank.
    formula_rows = {row for row, _ in context.formulas_without_value}
    formula_rows |= {row for row, _ in context.error_cells}
    compactor = AccountCompactor()
    blank_since: int | None = None
    blank_runs = 0
    data_rows = 0
    for row_number, row in enumerate(rows, start=first_row_number):
        if isinstance(row, RejectedRow):
            data_rows = _count_data_row(data_rows, max_rows)
            parsed_row = _rejected(row, context.columns, row_number)
            if progress is not None:
                progress(parsed_row)
            yield DataRow(parsed_row, row)
            continue
        if row_number not in formula_rows and all(is_blank(cell) for cell in row):
            blank_since = blank_since or row_number
            continue
        if blank_since is not None and data_rows:
            blank_runs += 1
            if blank_runs <= MAX_BLANK_RUN_NOTICES:
                opened.notices.append(_blank_run_notice(blank_since, row_number))
        blank_since = None
        reason = _totals_reason(row, context.columns, row_number in formula_rows)
        if reason is not None:
            opened.skipped.append(SkippedRow(row_number, reason))
            continue
        data_rows = _count_data_row(data_rows, max_rows)
        parsed_row = parse_row(row, context, row_number=row_number)
        compactor.compact(parsed_row)
        if progress is not None:
            progress(parsed_row)
        yield DataRow(parsed_row, row)
    if blank_runs > MAX_BLANK_RUN_NOTICES:
        opened.notices.append(
            f"{blank_runs - MAX_BLANK_RUN_NOTICES} more runs of blank rows lie "
            "between data rows; the rows after them were read too"
        )
    if not data_rows:
        raise UnreadableFileError(
            f"the header is on row {opened.header_row_number} but no data rows "
            "follow it"
        )


def _rejected(row: RejectedRow, columns: ColumnMap, row_number: int) -> ParsedRow:
    """Turn a CSV record that could not be read into a row with one error."""
    column = "row"
    if row.column_index is not None:
        names = {index: name for name, index in columns.fields.items()}
        names |= {index: name for name, index in columns.extras.items()}
        column = names.get(row.column_index, column_letter(row.column_index))
    return ParsedRow(row_number, None, [RowIssue(column, None, row.message)])


def _count_data_row(counted: int, max_rows: int) -> int:
    """Count one more data row; raise UnreadableFileError past the limit."""
    if counted >= max_rows:
        raise UnreadableFileError(
            f"the file has more than {max_rows} data rows; the limit is "
            f"{max_rows} data rows per upload, so split it into several files"
        )
    return counted + 1


def _blank_run_notice(first_blank: int, next_row: int) -> str:
    last_blank = next_row - 1
    blank = (
        f"row {first_blank} is blank"
        if first_blank == last_blank
        else f"rows {first_blank} to {last_blank} are blank"
    )
    return f"{blank}; the rows from {next_row} on were read as accounts too"


def _totals_reason(
    row: list[object], columns: ColumnMap, has_uncached_formula: bool
) -> str | None:
    """Explain why a row is a totals row, or return None for an account row."""
    key_index = columns.fields[columns.key_field()]
    key = row[key_index] if key_index < len(row) else None
    name_index = columns.fields["debtor_name"]
    name = row[name_index] if name_index < len(row) else None
    # normalize_header keeps ASCII digits, so a key with one is never a bare
    # totals label, and with a name beside it the row is an account.
    if (
        isinstance(key, str)
        and _ASCII_DIGIT.search(key) is not None
        and not is_blank(name)
    ):
        return None
    # A label counts in any cell of a row without a key. In a row with a key
    # it counts only as the key, and only when the key is nothing but a label
    # or the row has no name, so `TOTAL 2` with a name stays an account.
    if is_blank(key):
        labelled = row
    elif isinstance(key, str) and _TOTALS_KEY.match(normalize_header(key)):
        labelled = [key]
    else:
        labelled = [key] if is_blank(name) else []
    for cell in labelled:
        if isinstance(cell, str) and _TOTALS_LABEL.match(normalize_header(cell)):
            return f"totals row ('{cell.strip()[:50]}'), not an account"
    if not (is_blank(key) and is_blank(name)):
        return None
    filled = [cell for cell in row if not is_blank(cell)]
    if all(_is_number(cell) for cell in filled) and (filled or has_uncached_formula):
        return "a row with only numbers and no account or name (a sums row)"
    return None


def _is_number(cell: object) -> bool:
    if isinstance(cell, str):
        return _NUMBER_TEXT.match(cell) is not None
    return isinstance(cell, int | float) and not isinstance(cell, bool)
