"""Read a portfolio file into rows and turn each row into an account or issues.

The format is detected from the content, not the file name: XLSX is a ZIP archive, XLS
an OLE2 compound file, anything else is read as CSV text.
"""

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from python_calamine import CalamineWorkbook

from ingest.uploads.columns import ColumnMap, header_score, map_columns
from ingest.uploads.extent import check_xlsx_extent
from ingest.uploads.normalize import (
    AccountRow,
    RowIssue,
    ValueProblem,
    as_text,
    check_location,
    check_text,
    is_blank,
    parse_coordinate,
    parse_days,
    parse_money,
    parse_phone,
    parse_postal_code,
)

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
HEADER_SEARCH_ROWS = 20
MIN_HEADER_MATCHES = 2
CSV_DELIMITERS = ";,\t|"

CellReader = Callable[[str], object]

# Maximum length of each text field, as sized in the accounts table.
TEXT_FIELDS = {
    "street": 300,
    "exterior_number": 50,
    "interior_number": 50,
    "colonia": 200,
    "municipality": 200,
    "state": 100,
}
REQUIRED_TEXT_FIELDS = {"account_key": 100, "debtor_name": 300}
MAX_EXTRA_CHARS = 2_000


class UnreadableFileError(ValueError):
    """The file is not a readable workbook or CSV; the message explains why."""


@dataclass
class ParsedRow:
    row_number: int
    account: AccountRow | None
    issues: list[RowIssue] = field(default_factory=list)


@dataclass
class ParsedFile:
    file_format: str
    columns: ColumnMap
    header_row_number: int
    rows: list[ParsedRow]


def detect_format(content: bytes) -> str:
    if content.startswith(ZIP_MAGIC):
        return "xlsx"
    if content.startswith(OLE2_MAGIC):
        return "xls"
    return "csv"


def read_rows(content: bytes, file_format: str, *, max_rows: int) -> list[list[object]]:
    """Return the first sheet's rows, trailing blank rows dropped."""
    if file_format == "xlsx":
        try:
            check_xlsx_extent(content, max_rows=max_rows + HEADER_SEARCH_ROWS + 1000)
        except ValueError as error:
            raise UnreadableFileError(str(error)) from None
    if file_format in ("xlsx", "xls"):
        # NOTE: legacy XLS files are not checked for their extent before
        # loading, so a crafted one can still cost memory up to its last cell.
        try:
            workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
            rows = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
        except Exception as error:
            raise UnreadableFileError(
                f"the {file_format.upper()} workbook could not be read ({error}); "
                "save it again from Excel or export it as CSV"
            ) from error
    else:
        rows = list(_csv_rows(content))
    while rows and all(is_blank(cell) for cell in rows[-1]):
        rows.pop()
    if len(rows) > max_rows + HEADER_SEARCH_ROWS:
        raise UnreadableFileError(
            f"the file has {len(rows)} rows; the limit is {max_rows} data rows per "
            "upload, so split it into several files"
        )
    return [list(row) for row in rows]


def _csv_rows(content: bytes) -> Iterator[list[str]]:
    text = _decode(content)
    sample = text[:20000]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            sample, delimiters=CSV_DELIMITERS
        )
    except csv.Error:
        dialect = csv.excel
    try:
        yield from csv.reader(io.StringIO(text), dialect)
    except csv.Error as error:
        raise UnreadableFileError(
            f"the CSV file could not be read ({error}); export it again from Excel "
            "as CSV UTF-8, or upload the workbook"
        ) from None


def _decode(content: bytes) -> str:
    """UTF-8 (with or without BOM) first; Excel on Windows writes cp1252."""
    if b"\x00" in content:
        raise UnreadableFileError(
            "the file is binary and not a workbook; upload an XLSX, XLS or CSV file"
        )
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # A UTF-8 export with a few damaged bytes keeps its accents readable as
    # UTF-8; a genuine cp1252 file has almost no valid multibyte sequences.
    lenient = content.decode("utf-8-sig", errors="replace")
    high_bytes = sum(1 for byte in content if byte >= 0x80)
    if lenient.count("\ufffd") * 4 < high_bytes:
        return lenient
    return content.decode("cp1252", errors="replace")


def find_header(rows: list[list[object]]) -> int:
    """Index of the header row: the first of the top rows naming most known fields."""
    best_index, best_score = -1, 0
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        score = header_score(row)
        if score > best_score:
            best_index, best_score = index, score
    if best_score < MIN_HEADER_MATCHES:
        raise UnreadableFileError(
            "no header row found in the first 20 rows; the first row of the table "
            "must name the columns, e.g. 'No. de Crédito' and 'Nombre del Titular'"
        )
    return best_index


def parse_file(content: bytes, *, max_rows: int) -> ParsedFile:
    file_format = detect_format(content)
    rows = read_rows(content, file_format, max_rows=max_rows)
    if not rows:
        raise UnreadableFileError(
            "the file is empty; it needs a header row and data rows"
        )
    header_index = find_header(rows)
    columns = map_columns(rows[header_index])
    missing = columns.missing_required()
    if missing:
        raise UnreadableFileError(
            "required columns are missing: "
            + ", ".join(missing)
            + "; name them e.g. 'No. de Crédito' and 'Nombre del Titular'"
        )
    parsed = []
    for offset, row in enumerate(rows[header_index + 1 :]):
        if all(is_blank(cell) for cell in row):
            continue
        # Row numbers as Excel shows them: 1-based, counting the rows above.
        row_number = header_index + offset + 2
        parsed.append(parse_row(row, columns, row_number=row_number))
    if not parsed:
        raise UnreadableFileError(
            f"the header is on row {header_index + 1} but no data rows follow it"
        )
    return ParsedFile(file_format, columns, header_index + 1, parsed)


def parse_row(row: list[object], columns: ColumnMap, *, row_number: int) -> ParsedRow:
    headers = {name: index for name, index in columns.fields.items()}

    def cell(name: str) -> object:
        index = headers.get(name)
        return row[index] if index is not None and index < len(row) else None

    issues: list[RowIssue] = []
    required: dict[str, str] = {}
    for name, max_chars in REQUIRED_TEXT_FIELDS.items():
        value = cell(name)
        if is_blank(value):
            issues.append(RowIssue(name, None, f"{name} is required and is empty"))
            continue
        try:
            required[name] = check_text(as_text(value), max_chars=max_chars)
        except ValueProblem as problem:
            issues.append(RowIssue(name, _shown(value), f"{name} {problem}"))
    account = AccountRow(
        account_key=required.get("account_key", ""),
        debtor_name=required.get("debtor_name", ""),
    )
    _set_numbers(account, cell, issues)
    _set_optional(account, cell, issues)
    _set_location(account, cell, issues)
    for text_field, max_chars in TEXT_FIELDS.items():
        value = cell(text_field)
        if is_blank(value):
            continue
        try:
            setattr(
                account, text_field, check_text(as_text(value), max_chars=max_chars)
            )
        except ValueProblem as problem:
            issues.append(
                RowIssue(text_field, _shown(value), f"{text_field} {problem}")
            )
    account.extra = _extras(row, columns, issues)
    rejected = any(issue.severity == "error" for issue in issues)
    return ParsedRow(row_number, None if rejected else account, issues)


def _set_numbers(account: AccountRow, cell: CellReader, issues: list[RowIssue]) -> None:
    balance, days = cell("balance_overdue"), cell("days_past_due")
    if not is_blank(balance):
        try:
            account.balance_overdue = parse_money(balance)
        except ValueProblem as problem:
            issues.append(RowIssue("balance_overdue", as_text(balance), str(problem)))
    if not is_blank(days):
        try:
            account.days_past_due = parse_days(days)
        except ValueProblem as problem:
            issues.append(RowIssue("days_past_due", as_text(days), str(problem)))


def _set_optional(
    account: AccountRow, cell: CellReader, issues: list[RowIssue]
) -> None:
    postal_code, phone = cell("postal_code"), cell("phone")
    if not is_blank(postal_code):
        try:
            account.postal_code = parse_postal_code(postal_code)
        except ValueProblem as problem:
            issues.append(_warning("postal_code", postal_code, problem))
    if not is_blank(phone):
        try:
            account.phone = parse_phone(phone)
        except ValueProblem as problem:
            issues.append(_warning("phone", phone, problem))


def _set_location(
    account: AccountRow, cell: CellReader, issues: list[RowIssue]
) -> None:
    lat_cell, lon_cell = cell("latitude"), cell("longitude")
    if is_blank(lat_cell) and is_blank(lon_cell):
        return
    if is_blank(lat_cell) or is_blank(lon_cell):
        column = "latitude" if is_blank(lat_cell) else "longitude"
        issues.append(
            RowIssue(
                column,
                None,
                "latitude and longitude come together; one is empty",
                severity="warning",
            )
        )
        return
    try:
        lat = parse_coordinate(lat_cell, name="latitude")
        lon = parse_coordinate(lon_cell, name="longitude")
    except ValueProblem as problem:
        issues.append(_warning("latitude", lat_cell, problem))
        return
    account.latitude, account.longitude, warning = check_location(lat, lon)
    if warning:
        issues.append(
            RowIssue(
                "latitude",
                f"{as_text(lat_cell)}, {as_text(lon_cell)}",
                warning,
                severity="warning",
            )
        )


def _extras(
    row: list[object], columns: ColumnMap, issues: list[RowIssue]
) -> dict[str, str]:
    extras = {}
    for name, index in columns.extras.items():
        if index >= len(row) or is_blank(row[index]):
            continue
        try:
            extras[name] = check_text(as_text(row[index]), max_chars=MAX_EXTRA_CHARS)
        except ValueProblem as problem:
            issues.append(_warning(name, row[index], problem))
    return extras


def _shown(value: object) -> str:
    """Return a value short and clean enough to echo in the report."""
    return as_text(value).replace("\x00", "")[:200]


def _warning(column: str, value: object, problem: ValueProblem) -> RowIssue:
    return RowIssue(
        column, _shown(value), f"{problem}; the value was left out", severity="warning"
    )
