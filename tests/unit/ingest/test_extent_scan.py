"""The byte scan of sheet XML against a reference that parses the XML."""

import io
import re
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.uploads.columns import column_letter
from ingest.uploads.extent import (
    MAX_COLUMNS,
    WorkbookTooLargeError,
    _check_sheet,
    column_number,
)

MAX_ROWS = 120
_REFERENCE = re.compile(r"^([A-Z]{1,3})(\d+)$")


def reference_scan(xml: bytes, *, max_rows: int) -> set[tuple[int, int]]:
    """Check each cell with ElementTree, placing cells as calamine does.

    A row without `r` is one below the previous row, and a cell without `r`
    one column right of the previous cell in its row.
    """
    missing: set[tuple[int, int]] = set()
    row, column = 0, 0
    for event, element in ElementTree.iterparse(io.BytesIO(xml), ("start", "end")):
        tag = element.tag.rsplit("}", 1)[-1]
        if event == "start" and tag == "row":
            row = int(element.get("r") or row + 1)
            column = 0
        if event != "end" or tag != "c":
            continue
        children = {child.tag.rsplit("}", 1)[-1]: child for child in element}
        has_value = "is" in children or (
            "v" in children and (children["v"].text or "") != ""
        )
        match = _REFERENCE.match(element.get("r") or "")
        if match is None:
            column += 1
        else:
            row, column = int(match.group(2)), column_number(match.group(1))
        if "f" in children and not has_value and row <= max_rows:
            missing.add((row, column))
            continue
        if has_value and row > max_rows:
            raise WorkbookTooLargeError(f"row {row}")
        if has_value and column > MAX_COLUMNS:
            raise WorkbookTooLargeError(f"column {column}")
    return missing


def outcome(scan, xml: bytes) -> object:
    try:
        return scan(xml)
    except WorkbookTooLargeError:
        return "too large"


CELL_BODIES = {
    "number": "<{p}v>12.5</{p}v>",
    "empty value": "<{p}v></{p}v>",
    "closed value": "<{p}v/>",
    "blank value": "<{p}v> </{p}v>",
    "inline text": '<{p}is><{p}t xml:space="preserve">a/&gt; b</{p}t></{p}is>',
    "formula with value": "<{p}f>SUM(A1:A2)</{p}f><{p}v>3</{p}v>",
    "formula without value": "<{p}f>C2*2</{p}f>",
    "formula with empty value": "<{p}f>C2*2</{p}f><{p}v></{p}v>",
    "style only": None,
}

cells = st.tuples(
    st.integers(1, MAX_ROWS + 20),
    st.sampled_from([1, 2, 27, MAX_COLUMNS, MAX_COLUMNS + 1, 703]),
    st.sampled_from(sorted(CELL_BODIES)),
    # Whether the cell's `r` attribute is left out.
    st.booleans(),
)


def sheet_xml(
    rows: dict[int, list[tuple[int, str, bool]]],
    prefix: str,
    rows_without_reference: frozenset[int] = frozenset(),
) -> bytes:
    p = f"{prefix}:" if prefix else ""
    namespace = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    declaration = f'xmlns:{prefix}="{namespace}"' if prefix else f'xmlns="{namespace}"'
    parts = [f"<{p}worksheet {declaration}><{p}sheetData>"]
    for row_number in sorted(rows):
        if row_number in rows_without_reference:
            parts.append(f"<{p}row>")
        else:
            parts.append(f'<{p}row r="{row_number}">')
        for column, kind, unreferenced in rows[row_number]:
            reference = f"{column_letter(column - 1)}{row_number}"
            attributes = ' s="1"' if unreferenced else f' r="{reference}" s="1"'
            body = CELL_BODIES[kind]
            if body is None:
                parts.append(f"<{p}c{attributes}/>")
            else:
                parts.append(f"<{p}c{attributes}>{body.format(p=p)}</{p}c>")
        parts.append(f"</{p}row>")
    parts.append(f"</{p}sheetData></{p}worksheet>")
    return "".join(parts).encode()


class TestSheetScan:
    @settings(max_examples=300, deadline=None)
    @given(
        cells=st.lists(cells, max_size=40),
        prefix=st.sampled_from(["", "x"]),
        chunk_bytes=st.integers(1, 400),
        rows_without_reference=st.frozensets(st.integers(1, MAX_ROWS + 20)),
    )
    def test_scan_equals_reference(
        self, cells, prefix, chunk_bytes, rows_without_reference
    ):
        rows: dict[int, list[tuple[int, str, bool]]] = {}
        for row, column, kind, unreferenced in cells:
            rows.setdefault(row, []).append((column, kind, unreferenced))
        xml = sheet_xml(rows, prefix, rows_without_reference)

        def fast(content: bytes) -> set[tuple[int, int]]:
            return _check_sheet(
                io.BytesIO(content), max_rows=MAX_ROWS, chunk_bytes=chunk_bytes
            )

        expected = outcome(lambda c: reference_scan(c, max_rows=MAX_ROWS), xml)
        assert outcome(fast, xml) == expected

    def test_cell_reference_moves_row(self):
        # The row has no `r`, so it is row 1, but its first cell names row 102:
        # the next cell without `r` lies on row 102 as well.
        xml = (
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
            b'2006/main"><sheetData><row><c r="A102"><v>1</v></c>'
            b"<c><f>A102*2</f></c></row></sheetData></worksheet>"
        )

        found = _check_sheet(io.BytesIO(xml), max_rows=MAX_ROWS)

        assert found == {(102, 2)}
        assert reference_scan(xml, max_rows=MAX_ROWS) == found

    @pytest.mark.parametrize(
        ("reference", "message"),
        [("A121", "row 121"), ("GS5", "column 201")],
    )
    def test_value_past_limit_is_named(self, reference: str, message: str):
        xml = sheet_xml({}, "").replace(
            b"<sheetData>",
            f'<sheetData><row r="1"><c r="{reference}"><v>1</v></c></row>'.encode(),
        )
        with pytest.raises(
            WorkbookTooLargeError, match=f"cell {reference} .*{message}"
        ):
            _check_sheet(io.BytesIO(xml), max_rows=MAX_ROWS)

    def test_formula_cell_split_across_reads(self):
        xml = sheet_xml({3: [(3, "formula without value", False)]}, "")
        for chunk_bytes in range(1, len(xml) + 1):
            found = _check_sheet(
                io.BytesIO(xml), max_rows=MAX_ROWS, chunk_bytes=chunk_bytes
            )
            assert found == {(3, 3)}, chunk_bytes
