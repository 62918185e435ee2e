"""The byte scan of sheet XML and shared strings.

It is held against a reference that parses the XML, and its shortcuts against
the slower reading they replace.
"""

import functools
import io
import re
from unittest import mock
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.uploads.columns import column_letter
from ingest.uploads.extent import (
    MAX_CELL_CHARACTERS,
    MAX_COLUMNS,
    WorkbookTooLargeError,
    _cell_name,
    _check_cells,
    _check_shared_strings,
    _check_sheet,
    _end_of_last_cell,
    _follow_plain_block,
    _has_long_shared_string,
    _may_have_long_body,
    _numerals_up_to,
    _PlainBlockCheck,
    _Position,
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


# Pieces of sheet XML, well formed or not, that the plain-block test must
# either see through or send to the cell-by-cell reading. `{ref}` is a cell
# reference and `{row}` a row number. `{long}` is text of about a cell's
# length, and `{half}` text of entities whose XML may be longer than that.
PIECE_ROW_TAGS = [
    "<row>",
    "<row/>",
    '<row r="{row}"/>',
    '<row r="{row}" spans="1:3">',
    '<x:row r="{row}">',
    '<row r="{row}" ',
    "<row ",
]
PIECE_CELL_TAGS = [
    '<c r="{ref}" s="1">',
    "<c>",
    '<c s="1">',
    '<c s="1" r="{ref}">',
    '<c  r="{ref}">',
    '<c\tr="{ref}">',
    "<c r='{ref}'>",
    '<c r="{ref}" t="e">',
    '<c r="{ref}" t = "e">',
    "<c r='{ref}' t='e'>",
    '<c r="{ref}" t="e\'>',
    '<x:c r="{ref}">',
    '<c r="{ref}" </c>',
    '<c r="{ref}" <c r="{ref}">',
]
PIECE_CELL_BODIES = [
    "<v>#DIV/0!</v>",
    "<f>A1</f>",
    "<f>A1</f><v>2</v>",
    '<f t="shared" si="0"/>',
    "<x:f>A1</x:f>",
    "<x:v>3</x:v>",
    "<v/>",
    "",
]
PIECE_CELL_ENDS = ["</c>", "</x:c>", ""]
# Whole pieces in shapes that only some tag, body and end together make.
PIECE_OTHERS = [
    "</row>",
    "</x:row>",
    "<c>",
    "</c>",
    "<f/>",
    "<c><f>A1</f></c>",
    "<c><v>1</v></c>",
    '<row><c r="{ref}"><f>A1</f></c>',
    '<c r="{ref}" </c>',
    '<c r="{ref}" </c><is><t>{long}</t></is></c>',
    '<row <c r="{ref}"><v>1</v></c>',
    '<row r="{row}" <c r="{ref}"><v>1</v></c>',
]
# Bodies of cells in the usual shape, short and long.
USUAL_BODIES = [
    "<v>1</v>",
    "<v></v>",
    "<is><t>ab</t></is>",
    '<is><t xml:space="preserve">"e" &amp; "f"</t></is>',
    "<is><t>{long}</t></is>",
    "<is><t>{half}</t><t>{half}</t></is>",
    "<is><r><t>{half}</t></r><r><t>{half}</t></r></is>",
]
# A run of cells with only a style, longer than the windows that are
# searched for `</c>`.
STYLED_CELLS = '<c r="{ref}" s="1"/>' * 1_200
PLAIN_MAX_ROWS = 120
USUAL_ROWS = ["1", "9", "119", "120", "007"]
ODD_ROWS = ["121", "1200", "0120"]
USUAL_COLUMNS = ["A", "Z", "AA", "GR"]
ODD_COLUMNS = ["GS", "ZZ", "AAA"]


@st.composite
def sheet_pieces(draw) -> bytes:
    """Sheet XML mostly in the usual shape, with a few awkward pieces."""
    long_text = "x" * draw(
        st.sampled_from([MAX_CELL_CHARACTERS, MAX_CELL_CHARACTERS + 1])
    )
    half = "&amp;" * draw(st.sampled_from([10, 3_000, 6_600]))
    count = draw(st.integers(0, 30))
    awkward = set(draw(st.lists(st.integers(0, count), max_size=3)))
    parts = ['<worksheet xmlns:x="urn:x"><sheetData><row r="1">']
    for index in range(count):
        odd = index in awkward
        row = draw(st.sampled_from(USUAL_ROWS + ODD_ROWS if odd else USUAL_ROWS))
        column = draw(
            st.sampled_from(USUAL_COLUMNS + ODD_COLUMNS if odd else USUAL_COLUMNS)
        )
        kind = draw(st.sampled_from(["row", "cell", "cell", "cell", "other"]))
        if kind == "row":
            tag = draw(st.sampled_from(PIECE_ROW_TAGS)) if odd else '<row r="{row}">'
            piece = "</row>" + tag
        elif kind == "cell" and odd:
            tag = draw(st.sampled_from(PIECE_CELL_TAGS))
            body = draw(st.sampled_from(PIECE_CELL_BODIES + USUAL_BODIES))
            piece = tag + body + draw(st.sampled_from(PIECE_CELL_ENDS))
        elif kind == "cell":
            piece = '<c r="{ref}">' + draw(st.sampled_from(USUAL_BODIES)) + "</c>"
        elif odd:
            piece = draw(st.sampled_from(PIECE_OTHERS))
        else:
            piece = STYLED_CELLS
        parts.append(piece.format(ref=column + row, row=row, long=long_text, half=half))
    parts.append("</row></sheetData></worksheet>")
    return "".join(parts).encode()


def full_outcome(xml: bytes, chunk_bytes: int) -> object:
    errors: dict[tuple[int, int], str] = {}
    try:
        missing = _check_sheet(
            io.BytesIO(xml),
            max_rows=PLAIN_MAX_ROWS,
            chunk_bytes=chunk_bytes,
            error_cells=errors,
        )
    except ValueError as error:
        return type(error), str(error)
    return missing, errors


def assert_last_cells_suffice(buffer: bytes, row: int) -> None:
    """Check a plain block's shortcut against reading every cell of it.

    Reading every cell finds nothing, and following the block's last cells
    ends at the same position.
    """
    end = _end_of_last_cell(buffer)
    if not _PlainBlockCheck(PLAIN_MAX_ROWS).is_plain(buffer, end):
        return
    missing: set[tuple[int, int]] = set()
    errors: dict[tuple[int, int], str] = {}
    every_cell = _Position(row=row, column=3)
    _check_cells(
        buffer,
        start=0,
        end=end,
        position=every_cell,
        max_rows=PLAIN_MAX_ROWS,
        missing=missing,
        errors=errors,
    )
    assert missing == set()
    assert errors == {}
    last_cells = _Position(row=row, column=3)
    read = functools.partial(
        _check_cells,
        buffer,
        end=end,
        position=last_cells,
        max_rows=PLAIN_MAX_ROWS,
        missing=missing,
        errors=errors,
    )
    _follow_plain_block(buffer, end, last_cells, read)
    assert missing == set()
    assert errors == {}
    assert last_cells == every_cell


class TestPlainBlocks:
    """The plain-block test and its shortcut against reading every cell."""

    @settings(max_examples=400, deadline=None)
    @given(xml=sheet_pieces(), chunk_bytes=st.integers(1, 2_000))
    def test_outcome_matches_reading_every_cell(self, xml: bytes, chunk_bytes):
        # Small reads of a long sheet would only make the test slow.
        chunk_bytes = max(chunk_bytes, len(xml) // 100)
        expected = None
        with mock.patch.object(_PlainBlockCheck, "is_plain", return_value=False):
            expected = full_outcome(xml, chunk_bytes)
        assert full_outcome(xml, chunk_bytes) == expected

    @settings(max_examples=400, deadline=None)
    @given(xml=sheet_pieces(), cut=st.floats(0, 1), row=st.integers(0, 5))
    def test_plain_block_follows_last_cells(self, xml: bytes, cut, row):
        assert_last_cells_suffice(xml[: round(len(xml) * cut)], row)

    @pytest.mark.parametrize(
        "xml",
        [
            # A row tag without `r` that contains the last cell tag.
            '<row r="5"><c r="A5"><v>1</v></c><row <c r="B9"><v>1</v></c>'
            "<c><f>A1</f></c></row>",
            # A `</c>` that ends a cell's start tag, whose body then contains
            # the next cell.
            '<row r="5"><c r="A5"><v>1</v></c><c r="C5" </c><c r="D5"><v>1</v>'
            "</c><c><f>A1</f></c></row>",
            # A cell tag that no `</c>` closes, followed by a row without `r`:
            # no cell is read after the last `</c>` but a row is.
            '<row></c><c r="A1"><row></row><c><f>A1</f></c></row>',
            # The same, with a body of more text than a cell may hold.
            '<row r="5"><c r="A5"><v>1</v></c><c r="C5" </c><is><t>'
            + "x" * (MAX_CELL_CHARACTERS + 1)
            + "</t></is></c></row>",
        ],
    )
    def test_awkward_last_cells_match(self, xml: str):
        content = xml.encode()
        step = max(1, len(content) // 300)
        for chunk_bytes in range(1, len(content) + step, step):
            with mock.patch.object(_PlainBlockCheck, "is_plain", return_value=False):
                expected = full_outcome(content, chunk_bytes)
            assert full_outcome(content, chunk_bytes) == expected, chunk_bytes
        for cut in range(0, len(content) + 1, step):
            assert_last_cells_suffice(content[:cut], 2)

    def test_usual_block_is_plain(self):
        rows = "".join(
            f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>x</t></is></c>'
            f'<c r="GR{n}" s="2"><v>{n}.5</v></c><c r="B{n}" s="1"/></row>'
            for n in range(1, 121)
        )
        block = rows.encode()
        assert _PlainBlockCheck(120).is_plain(block, len(block))

    @pytest.mark.parametrize(
        "piece",
        [
            '<c r="A121"><v>1</v></c>',
            '<c r="GS1"><v>1</v></c>',
            '<c r="AAA1"><v>1</v></c>',
            "<c><v>1</v></c>",
            '<c s="1" r="A1"><v>1</v></c>',
            '<c r="A1"><f>B1</f></c>',
            '<c r="A1"><f t="shared" si="0"/></c>',
            '<x:c r="A1"><v>1</v></x:c>',
            '<c r="A1"><v>1</v></x:c>',
            '<c r="A1"><x:f>B1</x:f></c>',
            '<c r="A1" t="e"><v>#N/A</v></c>',
            '<c r="A1" t = "e"><v>#N/A</v></c>',
            "<c r='A1' t='e'><v>#N/A</v></c>",
        ],
    )
    def test_odd_cell_is_not_plain(self, piece: str):
        block = f'<row r="1">{piece}<c r="B1"><v>1</v></c></row>'.encode()
        assert not _PlainBlockCheck(120).is_plain(block, len(block))

    def test_spaced_error_type_recorded(self):
        xml = b'<row r="1"><c r="A1" t = "e"><v>#DIV/0!</v></c></row>'
        errors: dict[tuple[int, int], str] = {}
        _check_sheet(io.BytesIO(xml), max_rows=120, error_cells=errors)
        assert errors == {(1, 1): "#DIV/0!"}

    def test_text_runs_past_limit_rejected(self):
        half = b"a" * 20_000
        xml = (
            b'<row r="1"><c r="A1" t="inlineStr"><is><t>'
            + half
            + b"</t><t>"
            + half
            + b"</t></is></c></row>"
        )
        with pytest.raises(WorkbookTooLargeError, match="cell A1 contains 40,000"):
            _check_sheet(io.BytesIO(xml), max_rows=120)


class TestNumeralsUpTo:
    @pytest.mark.parametrize("limit", [1, 9, 10, 99, 120, 1_021, 101_020, 1_001_020])
    def test_row_numbers(self, limit: int):
        pattern = re.compile(rb"(?:%s)\Z" % _numerals_up_to(str(limit), "0", rb"\d"))
        width = len(str(limit))
        numbers = {*range(0, 130), *range(limit - 130, limit + 130), 10**width}
        for number in numbers:
            if number < 0:
                continue
            for text in (str(number), str(number).zfill(width)):
                matched = pattern.match(text.encode()) is not None
                expected = number <= limit and len(text) <= width
                assert matched == expected, text

    @pytest.mark.parametrize("limit", [1, 26, 27, 52, 200, 702, 703])
    def test_column_letters(self, limit: int):
        letters = _cell_name(1, limit)[:-1]
        pattern = re.compile(rb"(?:%s)\Z" % _numerals_up_to(letters, "A", b"[A-Z]"))
        for column in range(1, 18_279):
            name = _cell_name(1, column)[:-1]
            matched = pattern.match(name.encode()) is not None
            assert matched == (column <= limit), name


class TestLongBodyWindows:
    @pytest.mark.parametrize("offset", [0, 1, 5000, 16_383, 16_384, 40_000])
    @pytest.mark.parametrize("length", [MAX_CELL_CHARACTERS, MAX_CELL_CHARACTERS + 1])
    @pytest.mark.parametrize("runs", [1, 3])
    def test_long_body_found(self, offset: int, length: int, runs: int):
        text = b"</t><t>".join([b"x" * (length // runs)] * runs)
        text += b"x" * (length - length // runs * runs)
        cell = b'<c r="A1" t="inlineStr"><is><t>' + text + b"</t></is></c>"
        block = b'<c r="A1"/>' * (offset // 11) + cell + b'<c r="A1"/>' * 3000
        body_length = len(cell) - len(b'<c r="A1" t="inlineStr">') - len(b"</c>")
        expected = body_length > MAX_CELL_CHARACTERS
        assert _may_have_long_body(block, len(block)) == expected

    def test_short_cells_not_flagged(self):
        block = b'<c r="A1"><v>1</v></c>' * 100_000
        assert not _may_have_long_body(block, len(block))

    def test_styled_cells_not_flagged(self):
        block = b'<c r="A1"><v>1</v></c>' + b'<c r="A1" s="1"/>' * 10_000
        block += b'<c r="A1"><v>1</v></c>'
        assert not _may_have_long_body(block, len(block))

    def test_tag_ended_by_close_measured(self):
        # `</c>` ends this cell's start tag, and its body runs to the next one.
        block = b'<c r="A1" </c>' + b"<v/>" * 9_000 + b"</c>"
        assert _may_have_long_body(block, len(block))


def shared_strings_outcome(xml: bytes, chunk_bytes: int) -> str | None:
    try:
        _check_shared_strings(io.BytesIO(xml), chunk_bytes=chunk_bytes)
    except WorkbookTooLargeError as error:
        return str(error)
    return None


class TestSharedStrings:
    @settings(max_examples=200, deadline=None)
    @given(
        strings=st.lists(
            st.tuples(
                st.sampled_from(
                    [0, 5, 16_000, 16_381, 16_390, 32_762, 32_767, 32_768, 40_000]
                ),
                st.sampled_from(["x", "&amp;", "é"]),
                st.sampled_from(["", "", "", "x:"]),
            ),
            max_size=12,
        ),
        chunk_bytes=st.sampled_from([1_000, 20_000, 70_000, 1 << 20]),
    )
    def test_outcome_matches_measuring_every_string(self, strings, chunk_bytes):
        parts = ['<sst xmlns:x="urn:x">']
        for length, character, prefix in strings:
            # Entities and two-byte characters make XML longer than its text.
            text = character * (length // len(character.encode()))
            parts.append(f"<{prefix}si><{prefix}t>{text}</{prefix}t></{prefix}si>")
        parts.append("</sst>")
        xml = "".join(parts).encode()
        with mock.patch(
            "ingest.uploads.extent._has_long_shared_string", return_value=True
        ):
            expected = shared_strings_outcome(xml, chunk_bytes)
        assert shared_strings_outcome(xml, chunk_bytes) == expected

    @pytest.mark.parametrize("length", [MAX_CELL_CHARACTERS, MAX_CELL_CHARACTERS + 1])
    def test_long_last_string_found_at_any_offset(self, length: int):
        for offset in range(0, 16_400, 511):
            xml = (
                b"<sst><si><t>"
                + b"a" * offset
                + b"</t></si><si><t>"
                + b"x" * length
                + b"</t></si></sst>"
            )
            with mock.patch(
                "ingest.uploads.extent._has_long_shared_string", return_value=True
            ):
                expected = shared_strings_outcome(xml, 1 << 20)
            assert shared_strings_outcome(xml, 1 << 20) == expected, offset

    def test_short_strings_not_measured(self):
        xml = b"<si><t>Ana</t></si>" * 10_000
        assert not _has_long_shared_string(xml, len(xml))

    def test_long_string_is_candidate(self):
        xml = b"<si><t>" + b"x" * MAX_CELL_CHARACTERS + b"</t></si>"
        assert _has_long_shared_string(xml, len(xml))
