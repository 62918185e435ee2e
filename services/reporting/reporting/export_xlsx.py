"""An XLSX workbook of a campaign export, zipped in pieces as the rows arrive.

A workbook is a zip of XML parts. The fixed parts are written first. The
sheet is one zip entry whose XML is compressed and handed out batch by
batch, so memory contains one batch at a time, never the workbook.
`zipfile` writes to a stream that cannot seek by putting each entry's sizes
after its data, in a data descriptor. openpyxl reads such files, as the
tests check, and LibreOffice 7.4 converts them with dates and amounts
intact. NOTE: Excel itself was not tried on them.

Strings are inline (no shared-strings table, which would have to hold every
distinct text until the end). Times are Excel serial numbers with a date
format, so they sort and filter as dates.
"""

import math
import re
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import IO
from xml.sax.saxutils import escape

from reporting.export_rows import COLUMNS, Cell, Kind

MAX_DATA_ROWS = 1_048_575  # Excel's 1,048,576 rows less the header.
SHEET_NAME = "Visitas"
EXCEL_EPOCH = datetime(1899, 12, 30)

# Style ids in styles.xml's cellXfs, in order.
STYLE_DATETIME = 1
STYLE_DATE = 2
STYLE_HEADER = 3
STYLE_MONEY = 4
KIND_STYLES: dict[Kind, int] = {
    "datetime": STYLE_DATETIME,
    "date": STYLE_DATE,
    "money": STYLE_MONEY,
}

# XML 1.0 forbids these control characters even as character references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

CONTENT_TYPES = (
    _XML + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
    'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
    'sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
    'worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="'
    'application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    _XML + f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
    f'Type="{_DOC_TYPE}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    _XML + f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
    f'<sheet name="{SHEET_NAME}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    _XML + f'<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_DOC_TYPE}/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_DOC_TYPE}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_PLAIN = 'fontId="0" fillId="0" borderId="0" xfId="0"'
STYLES = (
    _XML + f'<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="3"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="166" formatCode="#,##0.00"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/>'
    "</border></borders>"
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" '
    'borderId="0"/></cellStyleXfs>'
    f'<cellXfs count="5"><xf numFmtId="0" {_PLAIN}/>'
    f'<xf numFmtId="164" {_PLAIN} applyNumberFormat="1"/>'
    f'<xf numFmtId="165" {_PLAIN} applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" '
    'applyFont="1"/>'
    f'<xf numFmtId="166" {_PLAIN} applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    "</cellStyles></styleSheet>"
)


def column_letters(index: int) -> str:
    """Return the spreadsheet letters of a zero-based column index: 0 is A."""
    letters = ""
    number = index + 1
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


LETTERS = tuple(column_letters(index) for index in range(len(COLUMNS)))
STYLES_BY_COLUMN = tuple(KIND_STYLES.get(column.kind, 0) for column in COLUMNS)


class _Chunks:
    """A write-only stream that keeps what was written until it is taken."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class XlsxExport:
    """Zip the fixed parts, then the sheet's rows batch by batch, then close."""

    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    extension = "xlsx"

    def __init__(self, compresslevel: int = 1) -> None:
        self._out = _Chunks()
        self._zip = zipfile.ZipFile(
            self._out, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel
        )
        self._sheet: IO[bytes] | None = None
        self._next_row = 1

    def start(self) -> bytes:
        for name, text in (
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", ROOT_RELS),
            ("xl/workbook.xml", WORKBOOK),
            ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
            ("xl/styles.xml", STYLES),
        ):
            self._zip.writestr(name, text)
        self._sheet = self._zip.open("xl/worksheets/sheet1.xml", "w")
        self._sheet.write((sheet_start() + self._header_row()).encode("utf-8"))
        return self._out.take()

    def rows(self, batch: Sequence[Sequence[Cell]]) -> bytes:
        assert self._sheet is not None, "start() must come first"
        xml = "".join(self._row(cells) for cells in batch)
        self._sheet.write(xml.encode("utf-8"))
        return self._out.take()

    def finish(self) -> bytes:
        assert self._sheet is not None, "start() must come first"
        self._sheet.write(b"</sheetData></worksheet>")
        self._sheet.close()
        self._zip.close()
        return self._out.take()

    def _header_row(self) -> str:
        cells = "".join(
            _text_cell(f"{LETTERS[index]}1", column.header, STYLE_HEADER)
            for index, column in enumerate(COLUMNS)
        )
        self._next_row = 2
        return f'<row r="1">{cells}</row>'

    def _row(self, cells: Sequence[Cell]) -> str:
        number = self._next_row
        self._next_row += 1
        xml = "".join(
            _cell(f"{LETTERS[index]}{number}", cell, STYLES_BY_COLUMN[index])
            for index, cell in enumerate(cells)
            if cell is not None
        )
        return f'<row r="{number}">{xml}</row>'


def sheet_start() -> str:
    """Return the sheet's XML up to its first row: a frozen header and widths."""
    widths = "".join(
        f'<col min="{index}" max="{index}" width="{column.width}" customWidth="1"/>'
        for index, column in enumerate(COLUMNS, start=1)
    )
    return (
        _XML + f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" '
        'topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        "</sheetView></sheetViews>"
        f"<cols>{widths}</cols><sheetData>"
    )


def _cell(reference: str, cell: Cell, style: int) -> str:
    if isinstance(cell, str):
        return _text_cell(reference, cell, 0)
    if isinstance(cell, datetime):
        return _number_cell(reference, excel_serial(cell), style)
    if isinstance(cell, date):
        return _number_cell(reference, excel_serial(cell), style)
    if isinstance(cell, bool):
        return _text_cell(reference, "Sí" if cell else "No", 0)
    return _number_cell(reference, cell, style)


def _text_cell(reference: str, text: str, style: int) -> str:
    styled = f' s="{style}"' if style else ""
    safe = escape(_NOT_XML.sub("", text), {"\r": "&#13;"})
    return (
        f'<c r="{reference}"{styled} t="inlineStr">'
        f'<is><t xml:space="preserve">{safe}</t></is></c>'
    )


def _number_cell(reference: str, value: int | float | Decimal, style: int) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    styled = f' s="{style}"' if style else ""
    return f'<c r="{reference}"{styled}><v>{value}</v></c>'


def excel_serial(moment: datetime | date) -> float:
    """Return a local date or naive time as Excel's serial day number."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return (moment - EXCEL_EPOCH).total_seconds() / 86400
