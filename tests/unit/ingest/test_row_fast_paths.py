"""The `plain_*` fast paths and `parse_row` give what the reference normalisers give.

Each fast path must return the reference's result for the shapes it reads
and None for everything else. The strategies mix the common shapes with
near misses: signs, separators, spaces, non-ASCII digits, impossible dates
and long strings.
"""

import sys
import unicodedata
from datetime import date
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ingest.uploads.columns import (
    ColumnMap,
    column_letter,
    map_columns,
    normalize_header,
)
from ingest.uploads.dates import parse_date, plain_date
from ingest.uploads.normalize import (
    AccountRow,
    RowIssue,
    ValueProblem,
    as_text,
    check_text,
    is_blank,
    parse_coordinate,
    parse_days,
    parse_money,
    parse_phone,
    parse_postal_code,
    plain_amount,
    plain_coordinate,
    plain_days,
    plain_postal_code,
    plain_text,
    strip_invisible,
)
from ingest.uploads.parsing import (
    _TOTALS_KEY,
    _TOTALS_LABEL,
    _is_number,
    _totals_reason,
)
from ingest.uploads.postal_codes import (
    STATE_PREFIXES,
    canonical_state,
    state_of_postal_code,
)
from ingest.uploads.rows import (
    _MX_VALID_STARTS,
    KEY_MAX_CHARS,
    MAX_EXTRA_CHARS,
    NAME_MAX_CHARS,
    TEXT_FIELDS,
    ParsedRow,
    RowContext,
    _check_postal_code,
    _formula_issues,
    _head_width,
    _kept_fields,
    _required_text,
    _RowLayout,
    _set_balance,
    _set_credit_number,
    _set_date,
    _set_days,
    _set_location_cells,
    _set_phone,
    _set_postal_code,
    _set_text,
    _warning,
    parse_row,
    phone_e164,
)

TODAY = date(2026, 1, 1)


def outcome(function, *args, **kwargs) -> object:
    """Return the function's result, or its problem's message."""
    try:
        result = function(*args, **kwargs)
    except ValueProblem as problem:
        return ("problem", str(problem))
    # Decimal("1.5") == Decimal("1.50"), so compare the written form too.
    return (result, str(result)) if isinstance(result, Decimal) else result


def agrees(fast, reference, value: object, **kwargs) -> None:
    """Assert that `fast` declines `value` or returns the reference's result."""
    result = fast(value, **kwargs)
    if result is not None:
        assert outcome(lambda: result) == outcome(reference, value, **kwargs)


digits = st.text(alphabet="0123456789", min_size=1, max_size=14)
near_miss_chars = " \t\xa0+-.,$e0x١٢३５\u200b"


def near_misses(alphabet: str, max_size: int = 16) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet + near_miss_chars, max_size=max_size)


class TestPlainText:
    @staticmethod
    def reference(value: object, *, max_chars: int) -> str | None:
        if is_blank(value):
            return None
        return check_text(as_text(value), max_chars=max_chars)

    @settings(max_examples=1500)
    @given(
        st.one_of(
            st.text(max_size=30),
            st.text(alphabet="ab éÉe\u0301  \t\n\x00\xa0\u3000Ｚ", max_size=12),
            st.sampled_from(["María Hernández", "Av. Juárez", "3B", "Del Valle"]),
        ),
        st.integers(min_value=1, max_value=20),
    )
    @example("x" * 21, 20)
    @example("e\u0301", 5)
    @example(" a", 5)
    @example("a  b", 5)
    def test_equals_reference(self, value: str, max_chars: int):
        agrees(plain_text, self.reference, value, max_chars=max_chars)

    @given(st.sampled_from(["María Hernández García", "Ciudad de México", "C-1"]))
    def test_common_text_taken(self, value: str):
        assert plain_text(value, 300) == value

    def test_non_text_declined(self):
        assert plain_text(12.0, 10) is None
        assert plain_text(None, 10) is None
        assert plain_text(date(2024, 1, 2), 10) is None

    def test_printable_whitespace_is_only_space(self):
        # plain_text relies on this: in printable text, str.split() splits
        # on spaces alone, so the text has no other whitespace to collapse.
        for code in range(sys.maxunicode + 1):
            char = chr(code)
            if char.isspace() and char != " ":
                assert not char.isprintable(), f"U+{code:04X}"


class TestPlainAmount:
    @settings(max_examples=1500)
    @given(
        st.one_of(
            digits,
            st.builds(lambda a, b: f"{a}.{b}", digits, digits),
            near_misses("0123456789"),
        )
    )
    @example("1.234")
    @example("1,234")
    @example("1.")
    @example(".5")
    @example("999999999999.99")
    @example("1000000000000")
    @example("0x10")
    @example("1e3")
    @example("-5")
    @example("+5")
    @example("١٢٣")
    def test_equals_reference(self, value: str):
        agrees(plain_amount, parse_money, value)

    @given(st.integers(0, 10**12 - 1), st.sampled_from(["", ".5", ".50", ".05"]))
    def test_common_amount_taken(self, whole: int, fraction: str):
        text = f"{whole}{fraction}"
        assert plain_amount(text) is not None
        assert str(plain_amount(text)) == str(parse_money(text))

    def test_cents_always_shown(self):
        assert str(plain_amount("12")) == "12.00"
        assert str(plain_amount("12.5")) == "12.50"


class TestPlainDays:
    @settings(max_examples=1000)
    @given(
        st.one_of(
            digits,
            near_misses("0123456789"),
            st.integers(-10, 40_000),
            st.floats(),
            st.integers(-10, 40_000).map(float),
            st.booleans(),
        )
    )
    @example(-0.0)
    @example(36500.0)
    @example(36500.5)
    @example("36500")
    @example("36501")
    @example("00045")
    @example("45.0")
    @example("٤٥")
    def test_equals_reference(self, value: object):
        agrees(plain_days, parse_days, value)

    @given(st.integers(0, 36_500))
    def test_common_days_taken(self, days: int):
        assert plain_days(str(days)) == days
        assert plain_days(days) == days
        assert plain_days(float(days)) == days


class TestPlainPostalCode:
    @settings(max_examples=1000)
    @given(st.one_of(digits, near_misses("0123456789", 7), st.integers(0, 10**6)))
    @example("06600")
    @example("6600")
    @example("0660٠")
    @example("066 00")
    def test_equals_reference(self, value: object):
        agrees(plain_postal_code, parse_postal_code, value)

    @given(st.integers(0, 99_999))
    def test_five_digits_taken(self, number: int):
        assert plain_postal_code(f"{number:05d}") == f"{number:05d}"


class TestPostalStateTables:
    def test_prefix_table_equals_ranges(self):
        for prefix in range(100):
            owners = [
                state
                for state, (first, last) in STATE_PREFIXES.items()
                if first <= prefix <= last
            ]
            expected = owners[0] if owners else None
            assert state_of_postal_code(f"{prefix:02d}000") == expected

    def test_standard_names_are_canonical(self):
        for state in STATE_PREFIXES:
            assert canonical_state(state) == state

    def test_cached_state_names_stay_right(self):
        for _ in range(2):
            assert canonical_state("CDMX") == "Ciudad de México"
            assert canonical_state("Jalisco") == "Jalisco"
            assert canonical_state("Atlantis") is None


day_first = st.dates(min_value=date(1890, 1, 1), max_value=date(2030, 12, 31))


@st.composite
def date_texts(draw: st.DrawFn) -> str:
    day = draw(day_first)
    layout = draw(st.sampled_from(["%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"]))
    return day.strftime(layout)


@st.composite
def impossible_dates(draw: st.DrawFn) -> str:
    day = draw(st.integers(0, 32))
    month = draw(st.integers(0, 13))
    year = draw(st.integers(1899, 2100))
    if draw(st.booleans()):
        return f"{day:02d}/{month:02d}/{year:04d}"
    return f"{year:04d}-{month:02d}-{day:02d}"


class TestPlainDate:
    @settings(max_examples=2000)
    @given(
        st.one_of(
            date_texts(),
            impossible_dates(),
            near_misses("0123456789/-", 12),
            st.dates(min_value=date(1899, 1, 1)),
            st.integers(-5, 60_000),
        )
    )
    @example("31/02/2024")
    @example("29/02/2024")
    @example("29/02/2023")
    @example("29/02/1900")
    @example("28/02/1900")
    @example("01/03/1900")
    @example("2026-01-02")
    @example("2026-01-01")
    @example("٠١/٠٢/٢٠٢٤")
    @example(" 01/02/2024")
    @example("1/2/2024")
    @example("2024-01-02T10:00")
    def test_equals_reference(self, value: object):
        agrees(plain_date, parse_date, value, today=TODAY)

    @given(st.dates(min_value=date(1900, 3, 1), max_value=TODAY))
    def test_common_dates_taken(self, day: date):
        assert plain_date(day.strftime("%d/%m/%Y"), today=TODAY) == day
        assert plain_date(day.isoformat(), today=TODAY) == day


class TestPlainCoordinate:
    @staticmethod
    def reference(value: object) -> float:
        return parse_coordinate(value, name="latitude")

    @settings(max_examples=1000)
    @given(
        st.one_of(
            st.floats(),
            st.floats(allow_nan=False).map(str),
            near_misses("0123456789", 12),
            st.sampled_from(["nan", "inf", "-inf", "1_0", "19,43", "", " "]),
        )
    )
    def test_equals_reference(self, value: object):
        agrees(plain_coordinate, self.reference, value)

    @given(st.floats(min_value=-180, max_value=180))
    def test_decimal_text_taken(self, number: float):
        assert plain_coordinate(str(number)) == number
        assert plain_coordinate(number) == number


def reference_totals_reason(row: list[object], columns: ColumnMap) -> str | None:
    """Apply the label and sums checks of `_totals_reason` without its shortcut."""
    key_index = columns.fields[columns.key_field()]
    key = row[key_index] if key_index < len(row) else None
    name_index = columns.fields["debtor_name"]
    name = row[name_index] if name_index < len(row) else None
    if is_blank(key):
        labelled = row
    elif isinstance(key, str) and _TOTALS_KEY.match(normalize_header(key)):
        labelled = [key]
    else:
        labelled = [key] if is_blank(name) else []
    for cell in labelled:
        if isinstance(cell, str) and _TOTALS_LABEL.match(normalize_header(cell)):
            return f"totals row ('{cell.strip()[:50]}'), not an account"
    if not (is_blank(key) and is_blank(name)):
        return None
    filled = [cell for cell in row if not is_blank(cell)]
    if all(_is_number(cell) for cell in filled) and filled:
        return "a row with only numbers and no account or name (a sums row)"
    return None


class TestTotalsDigitKey:
    columns = map_columns(["Cuenta", "Nombre", "Saldo"], None)

    @settings(max_examples=1000)
    @given(
        st.one_of(
            st.none(),
            st.text(alphabet="TOTAL total suma 0123456789-¹①٣", max_size=10),
            st.sampled_from(["TOTAL 2", "Total1", "SUMA 2024", "C-1", "1", 12.0]),
        ),
        st.sampled_from([None, "", " ", "Ana López", "Total", "Total 3", 5.0]),
        st.sampled_from([None, "", "10.00", "Total"]),
    )
    @example("TOTAL 2", "Ana López", "10.00")
    @example("TOTAL 2", None, "10.00")
    @example("Total", "Ana López", "10.00")
    def test_equals_reference(self, key: object, name: object, amount: object):
        row = [key, name, amount]
        expected = reference_totals_reason(row, self.columns)
        assert _totals_reason(row, self.columns, has_uncached_formula=False) == expected


def reference_parse_row(
    row: list[object], context: RowContext, row_number: int
) -> ParsedRow:
    """Parse a row with the reference normalisers alone, in the report's order."""
    columns = context.columns
    layout = _RowLayout.build(columns, context.formulas_without_value)
    changed = [
        index
        for index, value in enumerate(row)
        if isinstance(value, str) and strip_invisible(value) != value
    ]
    row = [strip_invisible(v) if isinstance(v, str) else v for v in row]

    def cell(name: str) -> object:
        index = columns.fields.get(name)
        return row[index] if index is not None and index < len(row) else None

    issues = _formula_issues(row_number, layout)
    if changed:
        names = [layout.names.get(i, column_letter(i)) for i in changed]
        message = (
            f"row {row_number}: removed invisible characters (zero-width or "
            f"bidirectional controls) from {', '.join(names)}"
        )
        issues.append(
            RowIssue(column=names[0], value=None, message=message, severity="warning")
        )
    key = _required_text(
        cell(columns.key_field()), "account_key", KEY_MAX_CHARS, issues
    )
    if key is not None and not key.isascii():
        key = unicodedata.normalize("NFKC", key)
    name = _required_text(cell("debtor_name"), "debtor_name", NAME_MAX_CHARS, issues)
    account = AccountRow(account_key=key or "", debtor_name=name or "")
    _set_credit_number(account, cell("credit_number"), issues)
    _set_balance(account, cell("balance_overdue"), context.currency, issues)
    _set_days(account, cell("days_past_due"), issues)
    for text_field, max_chars in TEXT_FIELDS.items():
        _set_text(account, text_field, cell(text_field), max_chars, issues)
    _set_postal_code(account, cell("postal_code"), issues)
    _check_postal_code(account, cell("postal_code"), issues)
    _set_phone(account, cell("phone"), issues)
    for date_field in ("last_payment_date", "birth_date"):
        _set_date(account, date_field, cell(date_field), context, issues)
    _set_location_cells(account, cell("latitude"), cell("longitude"), issues)
    for extra, index in columns.extras.items():
        value = row[index] if index < len(row) else None
        if is_blank(value):
            continue
        try:
            account.extra[extra] = check_text(as_text(value), max_chars=MAX_EXTRA_CHARS)
        except ValueProblem as problem:
            issues.append(_warning(extra, value, problem))
    account.kept_fields = _kept_fields(columns, issues)
    rejected = any(issue.severity == "error" for issue in issues)
    return ParsedRow(row_number, None if rejected else account, issues)


HEADERS = [
    "Cuenta",
    "Nombre",
    "No. de Crédito",
    "Saldo Vencido",
    "Días de Atraso",
    "Calle",
    "Núm. Int.",
    "C.P.",
    "Estado",
    "Teléfono",
    "Fecha último pago",
    "Latitud",
    "Longitud",
    "Notas",
]
# Cells for each header: common shapes first, then near misses.
CELLS: dict[str, list[object]] = {
    "Cuenta": ["CR000000001", "Ｚ1", "Z\u200b1", "", " ", "a" * 101, "x\x00"],
    "Nombre": ["María López", "Ana  López", " Ana", "e\u0301", "", None],
    "No. de Crédito": ["C-77", "", "9" * 101, 1234.0],
    "Saldo Vencido": ["1234.50", "12", "1,234.56", "-5", "1.234", "", 99.5, "x"],
    "Días de Atraso": ["45", "00045", "45.0", "-1", "36501", "", 12, "٤٥"],
    "Calle": ["Av. Juárez", "Calle\tHidalgo", "x" * 301, "", "Av.\u200bJuárez"],
    "Núm. Int.": ["", "3B", None, 5.0],
    "C.P.": ["06600", "6600", "44100", "99999", "0660٠", "", 6600],
    "Estado": ["Ciudad de México", "Jalisco", "CDMX", "", "Atlantis"],
    "Teléfono": ["5512345678", "55 1234 5678", "0012345678", "", "x", 5512345678],
    "Fecha último pago": ["31/12/2024", "2024-12-31", "31/02/2024", "", "2027-01-01"],
    "Latitud": ["19.43", "19,43", "-99.15", "", "nan", 19.43, "x"],
    "Longitud": ["-99.15", "-99,15", "19.43", "", "inf", -99.15],
    "Notas": ["llamar antes", "", "a  b", "x" * 2001],
}


@st.composite
def files_and_rows(draw: st.DrawFn) -> tuple[list[str], list[object], set]:
    headers = draw(
        st.lists(st.sampled_from(HEADERS), min_size=2, max_size=14, unique=True)
    )
    headers = [
        "Cuenta",
        "Nombre",
        *[h for h in headers if h not in ("Cuenta", "Nombre")],
    ]
    row = [draw(st.sampled_from(CELLS[header])) for header in headers]
    if draw(st.booleans()):
        row = row[: draw(st.integers(0, len(row)))]
    formulas = draw(
        st.sets(
            st.tuples(st.integers(2, 3), st.integers(1, len(headers) + 1)), max_size=2
        )
    )
    return headers, row, formulas


class TestParseRowEqualsReference:
    @settings(max_examples=1500, deadline=None)
    @given(files_and_rows())
    def test_row_equals_reference(self, case: tuple[list[str], list[object], set]):
        headers, row, formulas = case
        context = RowContext(
            columns=map_columns(list(headers)),
            today=TODAY,
            formulas_without_value=formulas,
        )
        expected = reference_parse_row(list(row), context, 2)
        parsed = parse_row(list(row), context, row_number=2)
        assert parsed.issues == expected.issues
        assert parsed.account == expected.account
        if parsed.account is not None and expected.account is not None:
            assert repr(parsed.account.balance_overdue) == repr(
                expected.account.balance_overdue
            )

    def test_layout_follows_new_columns(self):
        context = RowContext(columns=map_columns(["Cuenta", "Nombre"]), today=TODAY)
        first = parse_row(["A1", "Ana"], context, row_number=2)
        context.columns = map_columns(["Nombre", "Cuenta"])
        second = parse_row(["Ana", "A1"], context, row_number=3)
        assert first.account == second.account

    def test_clean_rows_get_own_kept_fields(self):
        context = RowContext(
            columns=ColumnMap(fields={"account_key": 0, "debtor_name": 1}), today=TODAY
        )
        first = parse_row(["A1", "Ana"], context, row_number=2)
        second = parse_row(["A2", "Eva"], context, row_number=3)
        assert first.account is not None
        assert second.account is not None
        assert first.account.kept_fields == second.account.kept_fields
        assert first.account.kept_fields is not second.account.kept_fields


class TestPhoneStartTable:
    def test_table_used_with_installed_metadata(self):
        assert _MX_VALID_STARTS is not None

    def test_every_start_equals_reference(self):
        for start in range(1000):
            for tail in ("0000000", "1234567", "9999999"):
                number = f"{start:03d}{tail}"
                assert outcome(phone_e164, number) == outcome(parse_phone, number), (
                    number
                )

    def test_head_width_of_pattern_shapes(self):
        assert _head_width(r"900\d{7}") == 3
        assert _head_width(r"8(?:00|88)\d{7}") == 3
        assert _head_width(r"[2-9]\d{9}") == 1
        assert _head_width(r"[|]\d{9}") == 1
        assert _head_width(r"\d{4}-\d{6}") == 4

    def test_head_width_rejects_other_shapes(self):
        assert _head_width(r"1\d{7}|2\d{9}") is None
        assert _head_width(r"(?:1\d{7})") is None
        assert _head_width(r"55\d+") is None
