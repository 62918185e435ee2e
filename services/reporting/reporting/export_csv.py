"""CSV rows of a campaign export, encoded in pieces as the rows arrive.

UTF-8 with a byte order mark, so that Excel on Windows reads the accents
right, and RFC 4180 quoting with CRLF line ends.
"""

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime

from reporting.export_rows import HEADERS, Cell

BOM = "\ufeff"


class CsvExport:
    """Encode the header, then batches of rows; nothing is kept between calls."""

    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    def start(self) -> bytes:
        return (BOM + _lines([list(HEADERS)])).encode("utf-8")

    def rows(self, batch: Sequence[Sequence[Cell]]) -> bytes:
        return _lines([[csv_value(cell) for cell in row] for row in batch]).encode(
            "utf-8"
        )

    def finish(self) -> bytes:
        return b""


def csv_value(cell: Cell) -> str:
    """Return a cell as CSV text: times without seconds, numbers as written."""
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.strftime("%Y-%m-%d %H:%M")
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell)


def _lines(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()
