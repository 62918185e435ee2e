"""Fast paths of row parsing give what the reference normalisers give."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ingest.uploads.columns import ColumnMap, map_columns, normalize_header
from ingest.uploads.normalize import ValueProblem, is_blank, parse_phone
from ingest.uploads.parsing import _TOTALS_LABEL, _totals_reason
from ingest.uploads.rows import phone_e164


def outcome(function, value: object) -> object:
    try:
        return function(value)
    except ValueProblem as problem:
        return ("problem", str(problem))


ten_digits = st.text(alphabet="0123456789", min_size=10, max_size=10)
separators = st.sampled_from(["", " ", "-", "  ", " - ", ".", "(", ")"])


@st.composite
def written_numbers(draw: st.DrawFn) -> str:
    digits = draw(ten_digits)
    groups = [digits[:2], digits[2:6], digits[6:]]
    if draw(st.booleans()):
        groups = [digits[:3], digits[3:6], digits[6:]]
    return draw(separators).join(groups)


class TestPhoneFastPath:
    @settings(max_examples=2000)
    @given(ten_digits)
    @example("5512345678")
    @example("0012345678")
    @example("8001234567")
    def test_ten_digits_equal_reference(self, text: str):
        assert outcome(phone_e164, text) == outcome(parse_phone, text)

    @settings(max_examples=1000)
    @given(written_numbers())
    def test_written_forms_equal_reference(self, text: str):
        assert outcome(phone_e164, text) == outcome(parse_phone, text)

    @settings(max_examples=500)
    @given(st.text(alphabet="0123456789 -+().x٣", max_size=16))
    def test_any_text_equals_reference(self, text: str):
        assert outcome(phone_e164, text) == outcome(parse_phone, text)

    @pytest.mark.parametrize(
        "value", [5512345678, 5512345678.0, "+52 55 1234 5678", "55 1234 5678"]
    )
    def test_cell_types_equal_reference(self, value: object):
        assert phone_e164(value) == parse_phone(value)


def reference_totals_reason(row: list[object], columns: ColumnMap) -> str | None:
    """Look for a totals label in every cell of the row.

    A key counts only when it is nothing but a label, or the row has no name.
    """
    key_index = columns.fields[columns.key_field()]
    key = row[key_index] if key_index < len(row) else None
    name_index = columns.fields["debtor_name"]
    name = row[name_index] if name_index < len(row) else None
    for cell in row:
        if isinstance(cell, str) and _TOTALS_LABEL.match(normalize_header(cell)):
            key_is_label = cell is key and (
                normalize_header(cell) in EXACT_TOTALS_LABELS or is_blank(name)
            )
            if is_blank(key) or key_is_label:
                return f"totals row ('{cell.strip()[:50]}'), not an account"
    return None


EXACT_TOTALS_LABELS = {
    "total",
    "totales",
    "total general",
    "gran total",
    "subtotal",
    "suma",
    "sumas",
    "suma total",
}


COLUMNS = map_columns(["Cuenta", "Nombre", "Saldo", "Notas"], None)
cell_values = st.one_of(
    st.none(),
    st.sampled_from(["", " ", "Total", "TOTAL GENERAL", "Súma", "Subtotal", "C-1"]),
    st.sampled_from(["Ana López", "totales:", "Totalmente", "sumas 2024", "TOTAL 2"]),
    st.floats(allow_nan=False),
)


class TestTotalsLabel:
    @settings(max_examples=1000)
    @given(st.lists(cell_values, min_size=0, max_size=5))
    def test_label_check_equals_reference(self, row: list[object]):
        expected = reference_totals_reason(row, COLUMNS)
        reason = _totals_reason(row, COLUMNS, has_uncached_formula=False)
        if expected is not None:
            assert reason == expected
        else:
            assert reason is None or "totals row" not in reason
