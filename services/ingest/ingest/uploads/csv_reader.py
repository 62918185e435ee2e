"""Read CSV bytes as Excel writes them, one record at a time.

Excel in a Spanish locale separates fields with `;` (the comma is the
decimal mark) and saves in cp1252 unless set to UTF-8, which it writes
with a byte-order mark. The bytes are decoded while the rows are parsed,
never copied into one string.
"""

import codecs
import csv
import io
from collections.abc import Iterator

from ingest.uploads.columns import header_score
from ingest.uploads.extent import MAX_COLUMNS

DELIMITERS = ";,\t|"
SAMPLE_BYTES = 64 * 1024
DECODE_CHUNK_BYTES = 1024 * 1024
SAMPLE_ROWS = 20
# A NUL in the first line (up to this many bytes), or more NULs than
# MAX_NUL_BYTES in the file, marks a binary file. Text exported from Excel
# has none, so a few further in are damaged cells.
BINARY_PREFIX_BYTES = 1024
MAX_NUL_BYTES = 100
# Control characters other than tab, line feed, form feed and carriage
# return. Text exported from a spreadsheet has almost none, while random or
# compressed bytes have about one in nine. More than MIN_CONTROL_BYTES of
# them that are also more than one in 100 bytes of the sample mark a binary
# file, so a few damaged cells in a small file do not.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
MAX_CONTROL_BYTE_SHARE = 100
MIN_CONTROL_BYTES = 16
# Bytes checked for UTF-16 without a byte-order mark, where every other byte
# of ASCII text is NUL.
UTF16_SAMPLE_BYTES = 256
# Undecodable bytes per valid UTF-8 multibyte character above which a file
# is read as cp1252. In cp1252 Spanish text a valid UTF-8 pair needs an
# uppercase accented letter followed by a symbol such as `°`, which is rare.
CP1252_MIN_UNDECODABLE_RATIO = 100
_HIGH_BYTES = bytes(range(0x80, 0x100))


class RejectedRow(list[object]):
    """A CSV record the reader could not split into cells, kept in its place.

    The list is empty, so the row numbers of the records after it stay right.
    """

    def __init__(self, message: str, column_index: int | None) -> None:
        super().__init__()
        self.message = message
        self.column_index = column_index


class _LineTracker:
    """Iterate the text's lines and remember the last one, for error messages."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.last = ""

    def __iter__(self) -> "_LineTracker":
        return self

    def __next__(self) -> str:
        self.last = next(self._lines)
        return self.last


class CsvRows:
    """The records of a CSV file as lists of cells, read one at a time.

    A record csv cannot split is returned as a `RejectedRow`. Iterating raises
    ValueError for a record with a value past the column limit.
    """

    def __init__(self, content: bytes, *, mapping: dict[str, str] | None) -> None:
        check_text_encoding(content)
        encoding = detect_encoding(content)
        sample = content[:SAMPLE_BYTES].decode(encoding, errors="replace")
        self._delimiter = sniff_delimiter(sample, mapping)
        self._size = len(content)
        self._buffer = io.BytesIO(content)
        stream = io.TextIOWrapper(
            self._buffer, encoding=encoding, errors="replace", newline=""
        )
        self._lines = _LineTracker(iter(stream))
        self._reader = csv.reader(self._lines, delimiter=self._delimiter)
        self._count = 0

    def __iter__(self) -> "CsvRows":
        return self

    def __next__(self) -> list[object]:
        try:
            row: list[object] = list(next(self._reader))
        except csv.Error as error:
            row = _rejected_row(error, self._lines.last, self._delimiter)
        self._count += 1
        _check_column_count(row, self._count)
        return row

    def fraction_read(self) -> float:
        """Return the share of the file's bytes decoded so far, from 0 to 1."""
        # NOTE: the text layer decodes ahead in blocks of a few KiB, so this
        # runs slightly ahead of the record last returned.
        return self._buffer.tell() / max(self._size, 1)


def check_text_encoding(content: bytes) -> None:
    """Raise ValueError for UTF-16 text or a binary file.

    A few NUL bytes further in are left to the cells that contain them.
    """
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(
        content[:UTF16_SAMPLE_BYTES]
    ):
        raise ValueError(
            "the file is UTF-16 text; UTF-16 is not supported, so save it as CSV UTF-8"
        )
    first_line = content[:BINARY_PREFIX_BYTES].split(b"\n", 1)[0]
    sample = content[:SAMPLE_BYTES]
    control_bytes = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if (
        b"\x00" in first_line
        or content.count(b"\x00") > MAX_NUL_BYTES
        or (
            control_bytes > MIN_CONTROL_BYTES
            and control_bytes * MAX_CONTROL_BYTE_SHARE > len(sample)
        )
    ):
        raise ValueError(
            "the file is binary and not a workbook; upload an XLSX, XLS or CSV file"
        )


def _looks_utf16(sample: bytes) -> bool:
    """Tell whether every other byte is NUL, as in UTF-16 text without a BOM."""
    if len(sample) < 4:
        return False
    even, odd = sample[0::2], sample[1::2]
    little_endian = odd.count(0) == len(odd) and even.count(0) == 0
    big_endian = even.count(0) == len(even) and odd.count(0) == 0
    return little_endian or big_endian


def _check_column_count(row: list[object], row_number: int) -> None:
    """Raise when a row has a value past the column limit that workbooks have."""
    if len(row) > MAX_COLUMNS and any(str(cell).strip() for cell in row[MAX_COLUMNS:]):
        raise ValueError(
            f"row {row_number} has {len(row)} columns; a file may use "
            f"{MAX_COLUMNS} columns, so delete the columns past the {MAX_COLUMNS}th"
        )


def _rejected_row(error: csv.Error, line: str, delimiter: str) -> RejectedRow:
    """Describe a record csv could not read, naming the column when it is found."""
    if "field larger than field limit" in str(error):
        limit = csv.field_size_limit()
        return RejectedRow(
            f"the cell is longer than {limit:,} characters; shorten it",
            _long_field_index(line, delimiter, limit),
        )
    return RejectedRow(f"the row could not be read as CSV ({error})", None)


def _long_field_index(line: str, delimiter: str, limit: int) -> int | None:
    """Return the 0-based index of the first field longer than `limit` in `line`.

    Quotes are followed so a delimiter inside a quoted field does not count.
    Return None when no field of the line is that long, as for a quoted
    field that spans several lines.
    """
    index, length, quoted = 0, 0, False
    for character in line:
        if character == '"':
            quoted = not quoted
        elif character == delimiter and not quoted:
            index, length = index + 1, 0
            continue
        length += 1
        if length > limit:
            return index
    return None


def detect_encoding(content: bytes) -> str:
    """Return `utf-8-sig` for UTF-8 with or without BOM, else `cp1252`.

    A genuine cp1252 file has almost no valid UTF-8 multibyte sequences, so
    it is read as cp1252 only when its undecodable bytes outnumber those
    sequences a hundred to one. Every other file is read as UTF-8: a few
    damaged bytes, or rows pasted from a cp1252 file into a UTF-8 one,
    leave the rest readable, and each cell that contains U+FFFD after
    decoding is reported on its row. Such a mixed file is not rejected as
    a whole, so its readable rows are still stored.
    """
    if content.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    replaced = high_bytes = decoded_non_ascii = 0
    for start in range(0, len(content), DECODE_CHUNK_BYTES):
        chunk = content[start : start + DECODE_CHUNK_BYTES]
        final = start + DECODE_CHUNK_BYTES >= len(content)
        text = decoder.decode(chunk, final=final)
        chunk_replaced = text.count("\ufffd")
        replaced += chunk_replaced
        high_bytes += len(chunk) - len(chunk.translate(None, _HIGH_BYTES))
        non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
        decoded_non_ascii += non_ascii - chunk_replaced
    if replaced * 4 < high_bytes or high_bytes == 0:
        return "utf-8-sig"
    if decoded_non_ascii * CP1252_MIN_UNDECODABLE_RATIO >= replaced:
        return "utf-8-sig"
    return "cp1252"


def sniff_delimiter(sample: str, mapping: dict[str, str] | None = None) -> str:
    """Pick the delimiter that splits the header into the most known columns.

    csv.Sniffer alone is misled by `;` files whose amounts use decimal
    commas, because both characters then recur on every line.
    """
    lines = sample.splitlines()[:SAMPLE_ROWS]
    best, best_score = None, 0
    for delimiter in DELIMITERS:
        rows = csv.reader(lines, delimiter=delimiter)
        score = max((header_score(list(row), mapping) for row in rows), default=0)
        if score > best_score:
            best, best_score = delimiter, score
    if best is not None:
        return best
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","
