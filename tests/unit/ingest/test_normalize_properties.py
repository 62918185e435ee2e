from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from ingest.uploads.columns import map_columns, normalize_header
from ingest.uploads.normalize import parse_money, parse_postal_code

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
