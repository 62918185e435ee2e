"""Check how far an XLSX workbook's cells reach before it is loaded.

calamine builds a sheet as a dense grid from A1 to its last cell, so a
1.5 KB file with a single value at Z1048576 costs about a gigabyte. The
sheets' XML is streamed here first and the workbook is rejected when a
value lies beyond the row or column limit, or when it unpacks to more than
the byte limit. Cells with only a style (formatting run down to row
1,048,576) carry no value and pass.

calamine places a cell without an `r` attribute one column right of the
previous cell in its row, and a row without `r` one below the previous
row, so the scan tracks positions the same way. A cell text or shared
string longer than Excel's limit of 32,767 characters is rejected too,
because calamine would hold it whole in memory.

The same pass records what calamine does not expose: the workbook's date
system (`workbookPr date1904`), and the first sheet's formula cells that have
no saved result and its error cells (`t="e"`, such as `#DIV/0!`), both of
which calamine returns as empty strings.
"""

import functools
import io
import posixpath
import queue
import re
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO
from xml.etree import ElementTree

MAX_COLUMNS = 200
MAX_UNPACKED_BYTES = 300 * 1024 * 1024
MAX_WORKBOOK_XML_BYTES = 10 * 1024 * 1024
MAX_FORMULAS_WITHOUT_VALUE = 10_000
MAX_ERROR_CELLS = 10_000
# Excel's maximum number of characters in one cell.
MAX_CELL_CHARACTERS = 32_767
# Bytes of XML one cell may take: every character as a 6-byte entity such as
# `&quot;`, plus room for the tags and a formula.
MAX_CELL_XML_BYTES = 6 * MAX_CELL_CHARACTERS + 64 * 1024
SHARED_STRINGS_PATH = "xl/sharedStrings.xml"

# A regex search holds the GIL until it returns, and the thread that unpacks
# the next chunk needs it between zlib calls, so searches over short blocks
# keep that thread waiting less.
_CHUNK_BYTES = 1024 * 1024
# Sheet XML, matched as bytes. Text cannot contain "<", so a cell ends at
# the first closing `c` tag; element names may carry a namespace prefix.
_CELL = re.compile(
    rb"<(?:[\w.-]+:)?c(?=[\s/>])([^>]*?)(?:/>|>(.*?)</(?:[\w.-]+:)?c>)", re.DOTALL
)
_ROW = re.compile(rb"<(?:[\w.-]+:)?row(?=[\s/>])([^>]*)>")
_CELL_OR_ROW = re.compile(_ROW.pattern + rb"|" + _CELL.pattern, re.DOTALL)
_CELL_START = re.compile(rb"<(?:[\w.-]+:)?c(?=[\s/>])")
_REFERENCE = re.compile(rb"""(?:^|\s)r\s*=\s*["']([A-Z]{1,3})(\d+)["']""")
_ROW_REFERENCE = re.compile(rb"""(?:^|\s)r\s*=\s*["'](\d+)["']""")
_FORMULA_ELEMENT = re.compile(
    rb"<(?:[\w.-]+:)?f(?:\s[^>]*)?>.*?</(?:[\w.-]+:)?f>", re.DOTALL
)
_TAG = re.compile(rb"<[^>]*>")
_ENTITY = re.compile(rb"&(?:#[0-9]+|#x[0-9a-fA-F]+|\w+);")
_SHARED_STRING_END = re.compile(rb"</(?:[\w.-]+:)?si>")
_PLAIN_SHARED_STRING_END = b"</si>"
_PREFIXED_SHARED_STRING_END = b":si>"
_VALUE = re.compile(rb"<(?:[\w.-]+:)?v(?:\s[^>]*)?>[^<]|<(?:[\w.-]+:)?is[\s/>]")
_FORMULA = re.compile(rb"<(?:[\w.-]+:)?f[\s/>]")
_ROW_END = re.compile(rb"</(?:[\w.-]+:)?row>")
_CELL_END = re.compile(rb"</(?:[\w.-]+:)?c>")
# An error cell's type attribute, `t="e"`, as written with either quote.
_ERROR_TYPE = re.compile(rb"""(?:^|\s)t\s*=\s*["']e["']""")
_ERROR_VALUE = re.compile(rb"<(?:[\w.-]+:)?v(?:\s[^>]*)?>([^<]{1,32})<")
# Searches of the plain-block test. Each starts with a fixed string, which
# `re` finds much faster than a pattern that starts with a choice.
# A cell or formula tag with a namespace prefix, such as `<x:c ` or `</x:c>`.
_PREFIXED_TAG = re.compile(rb":[cf][\s/>]")
# A quoted `e`, which every error type attribute contains, however spaced.
_QUOTED_E = re.compile(rb"""e["'](?<=["']e["'])""")
# A cell start tag without a prefix, and one that ends with `>` rather than
# `/>`, so a body follows it.
_PLAIN_CELL_START = re.compile(rb"<c(?=[\s/>])")
_CELL_WITH_BODY = re.compile(rb"<c(?=[\s/>])[^>]*(?<!/)>")
_PLAIN_CELL_END = b"</c>"
_RELATIONSHIP_NS = (
    "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
)


class WorkbookTooLargeError(ValueError):
    pass


@dataclass
class XlsxScan:
    """Workbook facts from the XML that calamine's cell values lack."""

    date1904: bool = False
    # 1-based (row, column) of the first sheet's formulas with no saved value.
    formulas_without_value: set[tuple[int, int]] = field(default_factory=set)
    # Error text, such as `#DIV/0!`, of the first sheet's error cells by
    # 1-based (row, column). calamine returns those cells as empty strings.
    error_cells: dict[tuple[int, int], str] = field(default_factory=dict)


class _BoundedReader(io.RawIOBase):
    """A stream that raises once more bytes than its limit were read.

    A ZIP entry's declared size can lie, so the limit is enforced on the
    bytes actually unpacked.
    """

    def __init__(self, stream: IO[bytes], *, limit: int, name: str) -> None:
        self._stream, self._left, self._name = stream, limit, name

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        # The entry's own bytes are returned, not copied into a buffer first.
        allowed = self._left + 1
        data = self._stream.read(allowed if size < 0 else min(size, allowed))
        self._left -= len(data)
        if self._left < 0:
            raise WorkbookTooLargeError(
                f"{self._name} in the workbook unpacks to more than the limit; "
                "save the portfolio with fewer rows or as CSV"
            )
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _ReadAhead:
    """A stream whose next chunk a worker thread reads while the caller works.

    zlib releases the GIL while it inflates, so unpacking the next chunk of
    a sheet overlaps the regex searches on the current one. Each read returns
    the next chunk of up to `chunk_bytes`, whatever size it requests. An error
    of the underlying stream is raised by the read of the chunk that failed.
    """

    def __init__(self, stream: IO[bytes], *, chunk_bytes: int) -> None:
        self._chunks: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=1)
        self._closed = threading.Event()
        self._worker = threading.Thread(
            target=self._fill, args=(stream, chunk_bytes), daemon=True
        )
        self._worker.start()

    def _fill(self, stream: IO[bytes], chunk_bytes: int) -> None:
        while not self._closed.is_set():
            try:
                chunk = stream.read(chunk_bytes)
            except BaseException as error:
                # Passed on, so the reader raises it instead of waiting forever.
                self._chunks.put(error)
                return
            self._chunks.put(chunk)
            if not chunk:
                return

    def read(self, size: int) -> bytes:
        del size
        item = self._chunks.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def __enter__(self) -> "_ReadAhead":
        return self

    def __exit__(self, *exc_info: object) -> None:
        # A worker blocked on a full queue wakes once the queue is emptied.
        self._closed.set()
        while self._worker.is_alive():
            try:
                self._chunks.get(timeout=0.1)
            except queue.Empty:
                pass
        self._worker.join()


def column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + (ord(letter) - ord("A") + 1)
    return number


def check_xlsx_extent(content: bytes, *, max_rows: int) -> XlsxScan:
    """Raise WorkbookTooLargeError, or ValueError for a damaged archive."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise ValueError("the XLSX file is damaged (not a valid ZIP archive)") from None
    try:
        return _scan(archive, max_rows=max_rows)
    except (zipfile.BadZipFile, ElementTree.ParseError, KeyError, OSError) as error:
        raise ValueError(f"the XLSX file is damaged ({error})") from None


def _scan(archive: zipfile.ZipFile, *, max_rows: int) -> XlsxScan:
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
    scan = XlsxScan()
    first_sheet = _first_sheet_path(archive, scan)
    if SHARED_STRINGS_PATH in archive.namelist():
        with (
            archive.open(SHARED_STRINGS_PATH) as entry,
            _ReadAhead(
                _BoundedReader(
                    entry, limit=MAX_UNPACKED_BYTES, name=SHARED_STRINGS_PATH
                ),
                chunk_bytes=_CHUNK_BYTES,
            ) as stream,
        ):
            _check_shared_strings(stream, chunk_bytes=_CHUNK_BYTES)
    for name in sheets:
        with (
            archive.open(name) as entry,
            _ReadAhead(
                _BoundedReader(entry, limit=MAX_UNPACKED_BYTES, name=name),
                chunk_bytes=_CHUNK_BYTES,
            ) as stream,
        ):
            errors: dict[tuple[int, int], str] = {}
            missing = _check_sheet(
                stream,
                max_rows=max_rows,
                chunk_bytes=_CHUNK_BYTES,
                error_cells=errors,
            )
        if name == first_sheet:
            scan.formulas_without_value = missing
            scan.error_cells = errors
    return scan


def _first_sheet_path(archive: zipfile.ZipFile, scan: XlsxScan) -> str | None:
    """Read the date system and return the path of the first sheet's XML."""
    workbook = _small_xml(archive, "xl/workbook.xml")
    if workbook is None:
        return None
    first_id = None
    for element in workbook.iter():
        tag = _local(element.tag)
        if tag == "workbookPr":
            scan.date1904 = element.get("date1904", "0").lower() in ("1", "true")
        elif tag == "sheet" and first_id is None:
            first_id = element.get(_RELATIONSHIP_NS)
    relationships = _small_xml(archive, "xl/_rels/workbook.xml.rels")
    if relationships is None or first_id is None:
        return None
    for element in relationships.iter():
        if _local(element.tag) == "Relationship" and element.get("Id") == first_id:
            target = element.get("Target") or ""
            if target.startswith("/"):
                return target.lstrip("/")
            return posixpath.normpath(posixpath.join("xl", target))
    return None


def _small_xml(archive: zipfile.ZipFile, name: str) -> ElementTree.Element | None:
    if name not in archive.namelist():
        return None
    with archive.open(name) as entry:
        data = entry.read(MAX_WORKBOOK_XML_BYTES + 1)
    if len(data) > MAX_WORKBOOK_XML_BYTES:
        raise WorkbookTooLargeError(f"{name} in the workbook is too large")
    return ElementTree.fromstring(data)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@dataclass
class _Position:
    """The row and column calamine uses for the next row or cell without `r`."""

    row: int = 0
    # Column of the previous cell in the current row, 0 before the first.
    column: int = 0


def _check_sheet(
    stream: IO[bytes],
    *,
    max_rows: int,
    chunk_bytes: int = _CHUNK_BYTES,
    error_cells: dict[tuple[int, int], str] | None = None,
) -> set[tuple[int, int]]:
    """Check every cell's position and text; return the formulas without a value.

    The text of each error cell, such as `#N/A`, is added to `error_cells`.

    The XML is searched as bytes, a block of whole cells at a time. When a
    few searches show that reading a block cell by cell would find nothing
    (`_PlainBlockCheck`), only its last cell and the rows after it are read, to
    follow the position that cells without `r` further on are placed from.
    Other blocks are read cell by cell. The XML is not validated here, so a
    damaged sheet is reported when calamine reads it.
    """
    missing: set[tuple[int, int]] = set()
    errors = {} if error_cells is None else error_cells
    plain = _PlainBlockCheck(max_rows)
    position = _Position()
    pending = b""
    while True:
        chunk = stream.read(chunk_bytes)
        buffer = pending + chunk
        end = _end_of_last_cell(buffer) if chunk else len(buffer)
        read = functools.partial(
            _check_cells,
            buffer,
            end=end,
            position=position,
            max_rows=max_rows,
            missing=missing,
            errors=errors,
        )
        if plain.is_plain(buffer, end):
            _follow_plain_block(buffer, end, position, read)
        else:
            read(start=0)
        pending = buffer[end:]
        if len(pending) > MAX_CELL_XML_BYTES:
            _check_unfinished_cell(pending, position)
        if not chunk:
            return missing


def _check_cells(
    buffer: bytes,
    *,
    start: int,
    end: int,
    position: _Position,
    max_rows: int,
    missing: set[tuple[int, int]],
    errors: dict[tuple[int, int], str],
) -> bool:
    """Read the rows and cells of `buffer[start:end]` one by one.

    `start` must lie where no row or cell tag is open, such as just past
    a `</c>` outside any tag. Return whether a cell was read.
    """
    read_cell = False
    for match in _CELL_OR_ROW.finditer(buffer, start, end):
        cell = _check_token(match, position, max_rows=max_rows, errors=errors)
        if cell is not None:
            missing.add(cell)
        read_cell = read_cell or match.group(1) is None
    if len(errors) > MAX_ERROR_CELLS:
        raise ValueError(
            f"more than {MAX_ERROR_CELLS} cells contain Excel errors such "
            "as #N/A or #DIV/0!; fix the formulas in Excel, save the file "
            "and upload it again"
        )
    if len(missing) > MAX_FORMULAS_WITHOUT_VALUE:
        raise ValueError(
            f"more than {MAX_FORMULAS_WITHOUT_VALUE} formulas have no "
            "saved result; open the file in Excel, let it recalculate, "
            "save it and upload it again"
        )
    return read_cell


def _follow_plain_block(
    buffer: bytes, end: int, position: _Position, read: Callable[..., bool]
) -> None:
    """Move `position` past a block that `_PlainBlockCheck` found plain.

    Only the block's last cells are read, from `_last_cells_start`. A cell
    read there sets both row and column, so what came before it no longer
    matters. When no cell is read there, the whole block is read again from
    the position it started at.
    """
    start = _last_cells_start(buffer, end)
    row, column = position.row, position.column
    if not read(start=start) and start > 0:
        position.row, position.column = row, column
        read(start=0)


class _PlainBlockCheck:
    """A test of whether reading a block cell by cell would find nothing.

    A block is plain when, in `buffer[:end]`:

    - every cell tag starts with `<c r="` and a reference within the limits;
    - there is no formula tag, and no cell or formula tag with a namespace
      prefix, closing tags included;
    - no `e` stands between quotes, as it does in every error type;
    - no cell's body may be longer than a cell's text (`_may_have_long_body`).

    Then, whichever tags the cell-by-cell reading takes for cells, none lies
    past the limits, is an error cell, contains a formula or is too long. What
    that reading would still change is the position, which
    `_last_cells_start` finds more cheaply. Each test is a search for a
    fixed string or a pattern that starts with one.
    """

    def __init__(self, max_rows: int) -> None:
        columns = _numerals_up_to(_cell_name(1, MAX_COLUMNS)[:-1], "A", b"[A-Z]")
        limit = str(max_rows)
        rows = _numerals_up_to(limit, "0", rb"\d")
        # A cell in the first 26 columns whose row has fewer digits than the
        # limit, the usual case, is passed over by the first test alone.
        usual = rb'(?! r="[A-Z]\d{1,%d}")' % (len(limit) - 1) if len(limit) > 1 else b""
        # One search finds a cell tag without a plain reference within the
        # limits, and a formula tag.
        self._odd_tag = re.compile(
            rb'<(?:c%s(?=[\s/>])(?! r="(?:%s)(?:%s)")|f[\s/>])' % (usual, columns, rows)
        )

    def is_plain(self, buffer: bytes, end: int) -> bool:
        return (
            self._odd_tag.search(buffer, 0, end) is None
            and _PREFIXED_TAG.search(buffer, 0, end) is None
            and _QUOTED_E.search(buffer, 0, end) is None
            and not _may_have_long_body(buffer, end)
        )


def _numerals_up_to(limit: str, first: str, any_digit: bytes) -> bytes:
    """Return a pattern for the numerals up to `limit` and no longer than it.

    The numerals are written with the consecutive characters from `first`
    (`0` for row numbers, `A` for column letters). Any shorter numeral is
    smaller, and two of the same length compare as text, so the pattern
    lists the shorter ones, then for each place the numerals that first
    fall below `limit` there, then `limit` itself.
    """
    choices = []
    if len(limit) > 1:
        choices.append(rb"%s{1,%d}" % (any_digit, len(limit) - 1))
    for index, digit in enumerate(limit):
        if digit > first:
            rest = len(limit) - index - 1
            choices.append(
                f"{limit[:index]}[{first}-{chr(ord(digit) - 1)}]".encode()
                + (rb"%s{%d}" % (any_digit, rest) if rest else b"")
            )
    choices.append(limit.encode())
    return b"|".join(choices)


def _may_have_long_body(buffer: bytes, end: int) -> bool:
    """Tell whether a cell's body in `buffer[:end]` may be longer than allowed.

    A body runs from a cell tag ending in `>` to the next `</c>`, so a body
    longer than MAX_CELL_CHARACTERS bytes covers one of the aligned windows
    of half that size whole, and that window contains no `</c>`. Only around
    such a window is the stretch a body may fill measured: from the first
    cell tag with a body after the previous `</c>` to the next `</c>`.
    """
    window = (MAX_CELL_CHARACTERS + 1) // 2
    start = 0
    while start + window <= end:
        if buffer.find(_PLAIN_CELL_END, start, start + window) >= 0:
            start += window
            continue
        after = buffer.find(_PLAIN_CELL_END, start, end)
        if after < 0:
            # No body that reaches this window ends in the block.
            return False
        before = buffer.rfind(_PLAIN_CELL_END, 0, start)
        if before >= 0 and _ends_cell_tag(buffer, before):
            body_start = before + len(_PLAIN_CELL_END)
        else:
            opening = _CELL_WITH_BODY.search(
                buffer, before + len(_PLAIN_CELL_END) if before >= 0 else 0, after
            )
            body_start = after if opening is None else opening.end()
        if after - body_start > MAX_CELL_CHARACTERS:
            return True
        # The window that contains the start of `after` lies in no body.
        start = (after // window + 1) * window
    return False


def _ends_cell_tag(buffer: bytes, close: int) -> bool:
    """Tell whether the `</c>` at `close` may end a cell's start tag.

    A start tag's attributes run to its first `>`, so `<c r="A1" </c>` is
    one tag, after which that cell's body begins.
    """
    previous_tag_end = buffer.rfind(b">", 0, close)
    return _PLAIN_CELL_START.search(buffer, previous_tag_end + 1, close) is not None


def _last_cells_start(buffer: bytes, end: int) -> int:
    """Return where to read a plain block's last cells from.

    That is just past the last `</c>` before the last cell tag, where no tag
    is open, unless that `</c>` ends a cell's start tag. Then, or when there
    is no such `</c>`, it is the block's start. In a plain block every cell
    tag starts with `<c r="`.
    """
    last_cell = buffer.rfind(b'<c r="', 0, end)
    before = buffer.rfind(_PLAIN_CELL_END, 0, max(last_cell, 0))
    if before < 0 or _ends_cell_tag(buffer, before):
        return 0
    return before + len(_PLAIN_CELL_END)


def _end_of_last_cell(buffer: bytes) -> int:
    """Return the offset just past the last whole cell or row.

    Return 0 when the buffer has neither, so it is kept for the next read.
    """
    ends = [
        found + len(tag)
        for tag in (b"</row>", b"</c>")
        if (found := buffer.rfind(tag)) >= 0
    ]
    if ends:
        return max(ends)
    for pattern in (_ROW_END, _CELL_END):
        ends = [match.end() for match in pattern.finditer(buffer)]
        if ends:
            return ends[-1]
    return 0


def _check_unfinished_cell(pending: bytes, position: _Position) -> None:
    """Raise when the unclosed cell that ends `pending` is too long for a cell."""
    starts = list(_CELL_START.finditer(pending))
    if not starts or len(pending) - starts[-1].start() <= MAX_CELL_XML_BYTES:
        return
    tag_end = pending.find(b">", starts[-1].end())
    attributes = pending[starts[-1].end() : tag_end if tag_end >= 0 else None]
    reference = _REFERENCE.search(attributes)
    if reference is not None:
        name = (reference.group(1) + reference.group(2)).decode()
    else:
        name = _cell_name(position.row, position.column + 1)
    raise WorkbookTooLargeError(
        f"cell {name} contains more than {MAX_CELL_CHARACTERS:,} characters, "
        f"the most a cell may contain; shorten it or delete it"
    )


def _check_token(
    match: re.Match[bytes],
    position: _Position,
    *,
    max_rows: int,
    errors: dict[tuple[int, int], str] | None = None,
) -> tuple[int, int] | None:
    """Follow a row start, or check a cell.

    Return the cell's (row, column) when it is a formula without a value.
    Add an error cell's text to `errors`.
    """
    if match.group(1) is not None:
        reference = _ROW_REFERENCE.search(match.group(1))
        position.row = int(reference.group(1)) if reference else position.row + 1
        position.column = 0
        return None
    reference = _REFERENCE.search(match.group(2))
    if reference is None:
        row, column = position.row, position.column + 1
    else:
        row = int(reference.group(2))
        column = column_number(reference.group(1).decode())
    # A cell's own reference also moves the row that the next cells
    # without `r` are placed on.
    position.row, position.column = row, column
    body = match.group(3) or b""
    # A cell with only a style (formatting that runs down the sheet) has no
    # value child and costs nothing to read.
    has_value = _VALUE.search(body) is not None
    if not has_value:
        if _FORMULA.search(body) and row <= max_rows:
            return row, column
        return None
    name = _cell_name(row, column)
    if row > max_rows:
        raise WorkbookTooLargeError(
            f"cell {name} contains a value on row {row}; a sheet may "
            f"reach row {max_rows}, so split the portfolio or delete what lies below"
        )
    if column > MAX_COLUMNS:
        raise WorkbookTooLargeError(
            f"cell {name} contains a value in column {column}; a sheet "
            f"may use {MAX_COLUMNS} columns, so delete what lies to the right"
        )
    if errors is not None and _ERROR_TYPE.search(match.group(2)):
        value = _ERROR_VALUE.search(_FORMULA_ELEMENT.sub(b"", body))
        text = value.group(1).decode("utf-8", errors="replace") if value else "#N/A"
        errors[row, column] = text.strip()
    if len(body) > MAX_CELL_CHARACTERS:
        length = _text_length(_FORMULA_ELEMENT.sub(b"", body))
        if length > MAX_CELL_CHARACTERS:
            raise WorkbookTooLargeError(
                f"cell {name} contains {length:,} characters; a cell may contain "
                f"at most {MAX_CELL_CHARACTERS:,}, so shorten it"
            )
    return None


def _text_length(xml: bytes) -> int:
    """Count the characters of the text in an XML fragment, entities as one."""
    text = _ENTITY.sub(b"&", _TAG.sub(b"", xml))
    return len(text.decode("utf-8", errors="replace"))


def _cell_name(row: int, column: int) -> str:
    letters = ""
    while column > 0:
        column, remainder = divmod(column - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return f"{letters}{row}"


def _check_shared_strings(stream: IO[bytes], chunk_bytes: int = _CHUNK_BYTES) -> None:
    """Raise when a shared string is longer than a cell may contain.

    The strings are read a block of whole `si` elements at a time, and an
    element is measured only when its XML is longer than the limit. A block
    in which `_has_long_shared_string` finds no candidate is passed over
    with one count of its strings.
    """
    index = 0
    pending = b""
    while True:
        chunk = stream.read(chunk_bytes)
        buffer = pending + chunk
        start = 0
        last = buffer.rfind(_PLAIN_SHARED_STRING_END)
        end = last + len(_PLAIN_SHARED_STRING_END) if last >= 0 else 0
        if not _has_long_shared_string(buffer, end):
            index += buffer.count(_PLAIN_SHARED_STRING_END, 0, end)
            start = end
        else:
            for match in _SHARED_STRING_END.finditer(buffer):
                if match.end() - start > MAX_CELL_CHARACTERS:
                    length = _text_length(buffer[start : match.end()])
                    if length > MAX_CELL_CHARACTERS:
                        _raise_long_shared_string(index, f"{length:,}")
                index += 1
                start = match.end()
        pending = buffer[start:]
        if len(pending) > MAX_CELL_XML_BYTES:
            _raise_long_shared_string(index, f"more than {MAX_CELL_CHARACTERS:,}")
        if not chunk:
            return


def _has_long_shared_string(buffer: bytes, end: int) -> bool:
    """Tell whether a shared string in `buffer[:end]` may be longer than allowed.

    Without a prefixed `</x:si>` in the buffer, every string ends at a plain
    `</si>`. The XML of a string longer than MAX_CELL_CHARACTERS bytes then
    covers a window, of the size below and aligned to the block's start,
    that contains no `</si>`.
    """
    if _PREFIXED_SHARED_STRING_END in buffer:
        return True
    window = (MAX_CELL_CHARACTERS - len(_PLAIN_SHARED_STRING_END)) // 2
    for start in range(0, end - window + 1, window):
        if buffer.find(_PLAIN_SHARED_STRING_END, start, start + window) < 0:
            return True
    return False


def _raise_long_shared_string(index: int, length: str) -> None:
    raise WorkbookTooLargeError(
        f"shared string {index} in {SHARED_STRINGS_PATH} contains {length} "
        f"characters; a cell may contain at most {MAX_CELL_CHARACTERS:,}, so "
        "shorten the cell that uses it"
    )
