from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.uploads.columns import map_columns, normalize_header
from ingest.uploads.dates import parse_date
from ingest.uploads.normalize import (
    MX_LAT_RANGE,
    MX_LON_RANGE,
    ValueProblem,
    check_location,
    parse_money,
    parse_phone,
    parse_postal_code,
)
from ingest.uploads.postal_codes import (
    STATE_PREFIXES,
    postal_code_problem,
    state_of_postal_code,
)

TODAY = date(2026, 1, 1)

amounts = st.decimals(
    min_value=Decimal("0"),
    max_value=Decimal("999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


def spanish_format(amount: Decimal) -> str:
    """Write 1234567.5 as `1.234.567,50`, as Excel does in a Spanish locale."""
    return f"{amount:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


class TestMoneyProperties:
    @given(amounts)
    def test_english_grouping_round_trips(self, amount: Decimal):
        assert parse_money(f"{amount:,.2f}") == amount

    @given(amounts)
    def test_spanish_grouping_round_trips(self, amount: Decimal):
        assert parse_money(spanish_format(amount)) == amount

    @given(amounts)
    def test_dollar_sign_ignored(self, amount: Decimal):
        assert parse_money(f"${amount:,.2f}") == amount

    @given(amounts)
    def test_excel_number_round_trips(self, amount: Decimal):
        assert parse_money(float(amount)) == amount

    @given(st.integers(min_value=1_000_000, max_value=999_999_999_999))
    def test_several_groups_round_trip(self, number: int):
        english = f"{number:,}"
        assert parse_money(english) == Decimal(number)
        assert parse_money(english.replace(",", ".")) == Decimal(number)

    @given(st.integers(min_value=1, max_value=999), st.integers(0, 999))
    def test_one_comma_group_is_thousands(self, head: int, tail: int):
        assert parse_money(f"{head},{tail:03d}") == Decimal(head * 1000 + tail)

    @given(st.integers(min_value=1, max_value=999), st.integers(0, 999))
    def test_one_dot_group_is_ambiguous(self, head: int, tail: int):
        with pytest.raises(ValueProblem, match="ambiguous"):
            parse_money(f"{head}.{tail:03d}")

    @given(amounts, st.integers(min_value=-5, max_value=5))
    def test_exponent_rejected(self, amount: Decimal, exponent: int):
        with pytest.raises(ValueProblem, match="exponent"):
            parse_money(f"{amount}e{exponent}")


class TestPostalCodeProperties:
    @given(st.integers(min_value=1000, max_value=99999))
    def test_number_becomes_five_digits(self, number: int):
        code = parse_postal_code(float(number))
        assert len(code) == 5
        assert int(code) == number


class TestHeaderProperties:
    @given(st.text(max_size=40))
    def test_normalized_header_is_plain_ascii(self, header: str):
        normalized = normalize_header(header)
        assert normalized == normalized.strip()
        assert all(ch.isascii() and (ch.isalnum() or ch == " ") for ch in normalized)

    @given(st.lists(st.sampled_from(["Teléfono", "Calle", "Notas", ""]), max_size=8))
    def test_no_column_lost_or_shared(self, headers: list[str]):
        columns = map_columns(list(headers))
        used = list(columns.fields.values()) + list(columns.extras.values())
        assert len(used) == len(set(used))
        assert len(used) == sum(1 for h in headers if h)


class TestPostalStateProperties:
    @given(st.sampled_from(sorted(STATE_PREFIXES)), st.data())
    def test_code_in_own_state_passes(self, state: str, data: st.DataObject):
        first, last = STATE_PREFIXES[state]
        prefix = data.draw(st.integers(min_value=first, max_value=last))
        code = f"{prefix:02d}{data.draw(st.integers(0, 999)):03d}"
        assert state_of_postal_code(code) == state
        assert postal_code_problem(code, state) is None

    @given(st.sampled_from(sorted(STATE_PREFIXES)), st.integers(0, 99999))
    def test_code_from_other_state_flagged(self, state: str, number: int):
        code = f"{number:05d}"
        owner = state_of_postal_code(code)
        problem = postal_code_problem(code, state)
        if owner == state:
            assert problem is None
        else:
            assert problem is not None
            assert code in problem


class TestPhoneProperties:
    @given(
        st.integers(min_value=10_000_000, max_value=99_999_999),
        st.sampled_from(
            ["{a} {b} {c}", "({a}) {b}-{c}", "+52 {a} {b} {c}", "{a}{b}{c}"]
        ),
    )
    def test_mexico_city_number_in_any_layout(self, subscriber: int, layout: str):
        digits = f"55{subscriber}"
        text = layout.format(a=digits[:2], b=digits[2:6], c=digits[6:])
        assert parse_phone(text) == f"+52{digits}"


dates = st.dates(min_value=date(1900, 3, 1), max_value=date(2026, 1, 1))


class TestDateProperties:
    @given(dates, st.booleans())
    def test_serial_round_trips(self, day: date, date1904: bool):
        epoch = date(1904, 1, 1) if date1904 else date(1899, 12, 30)
        serial = (day - epoch).days
        if serial < 0:
            return
        assert parse_date(float(serial), date1904=date1904, today=TODAY) == day

    @given(dates)
    def test_day_first_text_round_trips(self, day: date):
        text = day.strftime("%d/%m/%Y")
        assert parse_date(text, today=TODAY) == day

    @given(dates)
    def test_iso_text_round_trips(self, day: date):
        assert parse_date(day.isoformat(), today=TODAY) == day

    @given(st.dates(min_value=date(2026, 1, 2), max_value=date(2100, 1, 1)))
    def test_future_rejected(self, day: date):
        with pytest.raises(ValueProblem, match="in the future"):
            parse_date(day.isoformat(), today=TODAY)


mexico_lat = st.floats(min_value=MX_LAT_RANGE[0], max_value=MX_LAT_RANGE[1])
mexico_lon = st.floats(min_value=MX_LON_RANGE[0], max_value=MX_LON_RANGE[1])


class TestCoordinateProperties:
    @given(mexico_lat, mexico_lon)
    def test_point_in_mexico_kept(self, lat: float, lon: float):
        assert check_location(lat, lon) == (lat, lon, None)

    @given(mexico_lat, mexico_lon)
    def test_swapped_point_fixed_with_warning(self, lat: float, lon: float):
        fixed_lat, fixed_lon, warning = check_location(lon, lat)
        assert (fixed_lat, fixed_lon) == (lat, lon)
        assert warning is not None
        assert "swapped" in warning

    @given(st.floats(allow_nan=False), st.floats(allow_nan=False))
    def test_result_always_in_range(self, lat: float, lon: float):
        fixed_lat, fixed_lon, _ = check_location(lat, lon)
        if fixed_lat is None:
            assert fixed_lon is None
        else:
            assert -90 <= fixed_lat <= 90
            assert fixed_lon is not None
            assert -180 <= fixed_lon <= 180
            assert (fixed_lat, fixed_lon) != (0, 0)
