"""Check how far an XLSX workbook's cells reach before it is loaded.

calamine builds a sheet as a dense grid from A1 to its last cell, so a
1.5 KB file with a single value at Z1048576 costs about a gigabyte. The
sheets' XML is streamed here first and the workbook is rejected when a
value lies beyond the row or column limit, or when it unpacks to more than
the byte limit.
"""

import io
import re
import zipfile
from xml.etree import ElementTree

MAX_COLUMNS = 200
MAX_UNPACKED_BYTES = 300 * 1024 * 1024

_CELL_REFERENCE = re.compile(r"^([A-Z]{1,3})(\d+)$")


class WorkbookTooLargeError(ValueError):
    pass


def column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + (ord(letter) - ord("A") + 1)
    return number


def check_xlsx_extent(content: bytes, *, max_rows: int) -> None:
    """Raise WorkbookTooLargeError, or ValueError for a damaged archive."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise ValueError("the XLSX file is damaged (not a valid ZIP archive)") from None
    unpacked = sum(info.file_size for info in archive.infolist())
    if unpacked > MAX_UNPACKED_BYTES:
        raise WorkbookTooLargeError(
            f"the workbook unpacks to {unpacked // (1024 * 1024)} MiB; the limit is "
            f"{MAX_UNPACKED_BYTES // (1024 * 1024)} MiB"
        )
    sheets = [
        name
        for name in archive.namelist()
        if name.startswith("xl/worksheets/") and name.endswith(".xml")
    ]
    for name in sheets:
        with archive.open(name) as stream:
            _check_sheet(stream, max_rows=max_rows)


def _check_sheet(stream: io.BufferedIOBase, *, max_rows: int) -> None:
    for _, element in ElementTree.iterparse(stream):
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "c":
            _check_cell(element, max_rows=max_rows)
            element.clear()
        elif tag == "row":
            element.clear()


def _check_cell(element: ElementTree.Element, *, max_rows: int) -> None:
    # A cell with only a style (formatting that runs down the sheet) has no
    # value child and costs nothing to read.
    has_value = any(child.tag.rsplit("}", 1)[-1] in ("v", "is") for child in element)
    match = _CELL_REFERENCE.match(element.get("r") or "")
    if not has_value or match is None:
        return
    row, column = int(match.group(2)), column_number(match.group(1))
    if row > max_rows:
        raise WorkbookTooLargeError(
            f"cell {match.group(0)} contains a value on row {row}; a sheet may reach "
            f"row {max_rows}, so split the portfolio or delete what lies below"
        )
    if column > MAX_COLUMNS:
        raise WorkbookTooLargeError(
            f"cell {match.group(0)} contains a value in column {column}; a sheet may "
            f"use {MAX_COLUMNS} columns, so delete what lies to the right"
        )
