"""Read CSV bytes as Excel writes them, row by row.

Excel in a Spanish locale separates fields with `;` (the comma is the
decimal mark) and saves in cp1252 unless set to UTF-8, which it writes
with a byte-order mark. The bytes are decoded while the rows are parsed,
never copied into one string.
"""

import codecs
import csv
import io

from ingest.uploads.columns import header_score

DELIMITERS = ";,\t|"
SAMPLE_BYTES = 64 * 1024
DECODE_CHUNK_BYTES = 1024 * 1024
SAMPLE_ROWS = 20


def read_csv_rows(
    content: bytes, *, max_rows: int, mapping: dict[str, str] | None = None
) -> list[list[object]]:
    """Return up to `max_rows` + 1 rows; raise ValueError for an unreadable file.

    One row past the limit is returned when more data follows, so the caller
    can tell the file is too long.
    """
    if b"\x00" in content:
        raise ValueError(
            "the file is binary and not a workbook; upload an XLSX, XLS or CSV file"
        )
    encoding = detect_encoding(content)
    sample = content[:SAMPLE_BYTES].decode(encoding, errors="replace")
    delimiter = sniff_delimiter(sample, mapping)
    stream = io.TextIOWrapper(
        io.BytesIO(content), encoding=encoding, errors="replace", newline=""
    )
    rows: list[list[object]] = []
    try:
        for row in csv.reader(stream, delimiter=delimiter):
            if len(rows) < max_rows:
                rows.append(list(row))
            elif any(cell.strip() for cell in row):
                # Blank lines past the limit are not kept; a filled one
                # means the file is too long.
                rows.append(list(row))
                break
    except csv.Error as error:
        raise ValueError(
            f"the CSV file could not be read ({error}); export it again from Excel "
            "as CSV UTF-8, or upload the workbook"
        ) from None
    return rows


def detect_encoding(content: bytes) -> str:
    """Return `utf-8-sig` for UTF-8 with or without BOM, else `cp1252`.

    A UTF-8 export with a few damaged bytes keeps its accents readable as
    UTF-8, while a genuine cp1252 file has almost no valid multibyte
    sequences, so the share of undecodable bytes decides.
    """
    if content.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    replaced = 0
    for start in range(0, len(content), DECODE_CHUNK_BYTES):
        chunk = content[start : start + DECODE_CHUNK_BYTES]
        final = start + DECODE_CHUNK_BYTES >= len(content)
        replaced += decoder.decode(chunk, final=final).count("\ufffd")
    high_bytes = sum(1 for byte in content if byte >= 0x80)
    if replaced * 4 < high_bytes or high_bytes == 0:
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
