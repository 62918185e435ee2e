"""Turn one data row into an account, or into the issues that stop it."""

import re
from dataclasses import dataclass, field
from datetime import date

from phonenumbers import PhoneMetadata

from ingest.accounts.keys import normalize_key
from ingest.uploads.columns import DATE_FIELDS, ColumnMap, column_letter
from ingest.uploads.dates import parse_date, plain_date
from ingest.uploads.normalize import (
    AccountRow,
    RowIssue,
    ValueProblem,
    as_text,
    check_location,
    check_text,
    contains_invisible,
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
from ingest.uploads.postal_codes import postal_code_problem

# The patterns phonenumbers checks a Mexican national number against, so a
# plain 10-digit number is checked without parsing it in full.
_MX_METADATA = PhoneMetadata.metadata_for_region("MX")
_MX_NUMBER = re.compile(_MX_METADATA.general_desc.national_number_pattern)
# The patterns of the number types phonenumbers accepts as valid for a
# 10-digit number, and all of them in one pattern, so one match replaces a
# match per type.
_MX_TYPE_PATTERNS = [
    desc.national_number_pattern
    for desc in (
        _MX_METADATA.mobile,
        _MX_METADATA.fixed_line,
        _MX_METADATA.premium_rate,
        _MX_METADATA.toll_free,
        _MX_METADATA.shared_cost,
        _MX_METADATA.voip,
        _MX_METADATA.personal_number,
        _MX_METADATA.pager,
        _MX_METADATA.uan,
        _MX_METADATA.voicemail,
    )
    if desc is not None
    and desc.national_number_pattern
    and (not desc.possible_length or 10 in desc.possible_length)
]
_MX_NUMBER_TYPE = re.compile("|".join(f"(?:{p})" for p in _MX_TYPE_PATTERNS))
_PHONE_SEPARATORS = str.maketrans("", "", " -")
_DIGITS_TAIL = re.compile(r"(.*)\\d\{(\d+)\}")


def _head_width(pattern: str) -> int | None:
    """Return how many leading digits decide a 10-digit match of `pattern`.

    A pattern written as `head\\d{N}`, with no `|` outside a group of
    `head`, matches 10 digits exactly when `head` matches the first 10 - N.
    Return None for a pattern of another shape.
    """
    match = _DIGITS_TAIL.fullmatch(pattern)
    if match is None:
        return None
    depth, in_class, escaped = 0, False, False
    for char in match.group(1):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return None
    return 10 - int(match.group(2))


def _valid_starts() -> frozenset[str] | None:
    """Return the first three digits of every valid 10-digit Mexican number.

    This holds only when each pattern is decided by at most three leading
    digits, as for phonenumbers 9.0. Return None when one is not, so the
    patterns are matched in full.
    """
    patterns = [_MX_NUMBER.pattern, *_MX_TYPE_PATTERNS]
    widths = [_head_width(pattern) for pattern in patterns]
    if any(width is None or not 0 <= width <= 3 for width in widths):
        return None
    return frozenset(
        f"{start:03d}"
        for start in range(1000)
        if _MX_NUMBER.fullmatch(f"{start:03d}0000000")
        and _MX_NUMBER_TYPE.fullmatch(f"{start:03d}0000000")
    )


_MX_VALID_STARTS = _valid_starts()

# Maximum length of each text field, as sized in the accounts table.
TEXT_FIELDS = {
    "street": 300,
    "exterior_number": 50,
    "interior_number": 50,
    "colonia": 200,
    "municipality": 200,
    "state": 100,
    "cross_streets": 300,
    "address_references": 500,
}
KEY_MAX_CHARS = 100
# Numbers from 10^15 on have 16 digits or more, past the 15 significant
# digits Excel keeps, so as a key or credit number they may have lost digits.
MAX_EXACT_NUMERIC_KEY = 10.0**15
# Optional fields whose stored value stays when the file lacks their column.
KEEPABLE_FIELDS = (
    "credit_number",
    "balance_overdue",
    "days_past_due",
    *TEXT_FIELDS,
    "postal_code",
    "phone",
    "last_payment_date",
    "birth_date",
)
_REPLACEMENT_CHARACTER = "\ufffd"
# The values Excel shows for a formula that failed, as it writes them to CSV.
EXCEL_ERRORS = frozenset(
    {
        "#NULL!",
        "#DIV/0!",
        "#VALUE!",
        "#REF!",
        "#NAME?",
        "#NUM!",
        "#N/A",
        "#GETTING_DATA",
        "#SPILL!",
        "#CALC!",
        "#FIELD!",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
    }
)
_LEFT_OUT = "; the value was left out and any stored value is kept"
NAME_MAX_CHARS = 300
MAX_EXTRA_CHARS = 2_000


@dataclass
class RowContext:
    """Settings shared by every row of one file.

    The first `parse_row` call works out where each field sits from
    `columns` and `formulas_without_value`, so neither may change after it.
    """

    columns: ColumnMap
    today: date
    currency: str = "MXN"
    date1904: bool = False
    # 1-based (row, column) of formulas with no saved result.
    formulas_without_value: set[tuple[int, int]] = field(default_factory=set)
    # Error text, such as `#DIV/0!`, of error cells by 1-based (row, column).
    error_cells: dict[tuple[int, int], str] = field(default_factory=dict)
    # Cells of a CSV file's header row up to its last non-blank one. When
    # set, a row with fewer cells keeps the stored values of the columns it
    # lacks, and a row with values past the header gets a warning.
    header_cells: int | None = None
    _layout: "_RowLayout | None" = field(
        default=None, init=False, repr=False, compare=False
    )

    def layout(self) -> "_RowLayout":
        """Return the column layout of the file, built on first use."""
        if self._layout is None or self._layout.columns is not self.columns:
            self._layout = _RowLayout.build(
                self.columns, self.formulas_without_value, self.error_cells
            )
        return self._layout


@dataclass(slots=True)
class ParsedRow:
    row_number: int
    account: AccountRow | None
    issues: list[RowIssue] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _RowLayout:
    """The column index of each field of one file, worked out once per file.

    An index is None when the file has no column for the field. `width` is
    one past the highest index, so a shorter row is padded with blanks.
    """

    columns: ColumnMap
    width: int
    key: int | None
    name: int | None
    credit_number: int | None
    balance: int | None
    days: int | None
    # (field, index, maximum characters) in TEXT_FIELDS order.
    texts: tuple[tuple[str, int, int], ...]
    postal_code: int | None
    phone: int | None
    dates: tuple[tuple[str, int], ...]
    latitude: int | None
    longitude: int | None
    extras: tuple[tuple[str, int], ...]
    # Field or extra name of each column index, for issue messages.
    names: dict[int, str]
    # 1-based columns of formulas with no saved result, by 1-based row.
    formula_columns: dict[int, list[int]]
    # (0-based column, error text) of error cells, by 1-based row.
    error_columns: dict[int, list[tuple[int, str]]]
    # Column indexes of the extras.
    extra_indexes: frozenset[int]
    # `_kept_fields` of a row without warnings.
    kept_when_clean: frozenset[str]

    @classmethod
    def build(
        cls,
        columns: ColumnMap,
        formulas: set[tuple[int, int]],
        error_cells: dict[tuple[int, int], str] | None = None,
    ) -> "_RowLayout":
        fields = columns.fields
        formula_columns: dict[int, list[int]] = {}
        for row, column in sorted(formulas):
            formula_columns.setdefault(row, []).append(column)
        error_columns: dict[int, list[tuple[int, str]]] = {}
        for (row, column), text in sorted((error_cells or {}).items()):
            error_columns.setdefault(row, []).append((column - 1, text))
        names = {index: name for name, index in fields.items()}
        names |= {index: name for name, index in columns.extras.items()}
        indexes = [*fields.values(), *columns.extras.values()]
        return cls(
            columns=columns,
            width=max(indexes, default=-1) + 1,
            key=fields.get(columns.key_field()),
            name=fields.get("debtor_name"),
            credit_number=fields.get("credit_number"),
            balance=fields.get("balance_overdue"),
            days=fields.get("days_past_due"),
            texts=tuple(
                (name, fields[name], max_chars)
                for name, max_chars in TEXT_FIELDS.items()
                if name in fields
            ),
            postal_code=fields.get("postal_code"),
            phone=fields.get("phone"),
            dates=tuple((name, fields[name]) for name in DATE_FIELDS if name in fields),
            latitude=fields.get("latitude"),
            longitude=fields.get("longitude"),
            extras=tuple(columns.extras.items()),
            names=names,
            formula_columns=formula_columns,
            error_columns=error_columns,
            extra_indexes=frozenset(columns.extras.values()),
            kept_when_clean=frozenset(_kept_fields(columns, [])),
        )


def parse_row(row: list[object], context: RowContext, *, row_number: int) -> ParsedRow:
    """Check and normalise one data row into an account and its issues.

    Each value of a common shape (plain text, digits, `dd/mm/yyyy`) is read
    by a `plain_*` function. Every other value goes through the reference
    normalisers, which give the same result for those shapes and raise the
    messages the report shows.
    """
    layout = context.layout()
    ragged_issue, missing_fields = None, frozenset[str]()
    if context.header_cells is not None and len(row) != context.header_cells:
        ragged_issue, missing_fields = _ragged_row(
            row, context.header_cells, layout, row_number
        )
    # One search over the row's text clears most rows of each kind of
    # damage checked below. A cell of another type makes join raise
    # TypeError, so the text cells are then picked out first.
    try:
        joined = "".join(row)  # type: ignore[arg-type]
    except TypeError:
        joined = "".join([cell for cell in row if isinstance(cell, str)])
    if len(row) < layout.width:
        row = [*row, *([None] * (layout.width - len(row)))]
    row, invisible_issue = _without_invisible(row, layout, row_number, joined)
    issues = _formula_issues(row_number, layout)
    if invisible_issue is not None:
        issues.append(invisible_issue)
    row = _without_undecodable(row, layout, row_number, issues, joined)
    row = _without_error_values(row, layout, row_number, issues, joined)
    if ragged_issue is not None:
        issues.append(ragged_issue)

    key_cell = None if layout.key is None else row[layout.key]
    if type(key_cell) is float and layout.key is not None:
        issues.extend(_inexact_number_issues(key_cell, layout.key, layout, row_number))
    key = plain_text(key_cell, KEY_MAX_CHARS)
    if key is None:
        key = _required_text(key_cell, "account_key", KEY_MAX_CHARS, issues)
    if key is not None:
        # NFKC turns full-width `Ｚ1` into `Z1`, so the same key typed with
        # another keyboard layout names the same account.
        key = normalize_key(key)
    name_cell = None if layout.name is None else row[layout.name]
    name = plain_text(name_cell, NAME_MAX_CHARS)
    if name is None:
        name = _required_text(name_cell, "debtor_name", NAME_MAX_CHARS, issues)
    account = AccountRow(account_key=key or "", debtor_name=name or "")

    if layout.credit_number is not None:
        value = row[layout.credit_number]
        text = plain_text(value, KEY_MAX_CHARS)
        if type(value) is float and layout.credit_number != layout.key:
            index = layout.credit_number
            issues.extend(_inexact_number_issues(value, index, layout, row_number))
        if text is not None:
            account.credit_number = text
        else:
            _set_credit_number(account, value, issues)
    _set_numbers(account, row, layout, context.currency, issues)
    for text_field, index, max_chars in layout.texts:
        value = row[index]
        text = plain_text(value, max_chars)
        if text is not None:
            setattr(account, text_field, text)
        elif value is not None and value != "":
            _set_text(account, text_field, value, max_chars, issues)
    _set_contacts(account, row, layout, issues)
    for date_field, index in layout.dates:
        value = row[index]
        if value is None or value == "":
            continue
        day = plain_date(value, today=context.today)
        if day is None:
            _set_date(account, date_field, value, context, issues)
        else:
            setattr(account, date_field, day)
    if layout.latitude is not None or layout.longitude is not None:
        _set_location(account, row, layout, issues)
    if layout.extras:
        account.extra = _extras(row, layout.extras, issues)

    if issues:
        account.kept_fields = _kept_fields(context.columns, issues, missing_fields)
        if any(issue.severity == "error" for issue in issues):
            return ParsedRow(row_number, None, issues)
    else:
        account.kept_fields = set(layout.kept_when_clean)
    return ParsedRow(row_number, account, issues)


def _without_invisible(
    row: list[object], layout: _RowLayout, row_number: int, joined: str
) -> tuple[list[object], RowIssue | None]:
    """Remove zero-width characters and bidi controls from the row's text cells.

    `joined` is the row's text cells joined. Return the cleaned row and a
    warning that names the columns changed.
    """
    if not contains_invisible(joined):
        return row, None
    changed: list[int] = []
    cleaned = row
    for index, value in enumerate(row):
        if not isinstance(value, str) or value.isascii():
            continue
        stripped = strip_invisible(value)
        if stripped != value:
            if cleaned is row:
                cleaned = list(row)
            cleaned[index] = stripped
            changed.append(index)
    if not changed:
        return row, None
    changed_names = [layout.names.get(index, column_letter(index)) for index in changed]
    message = (
        f"row {row_number}: removed invisible characters (zero-width or "
        f"bidirectional controls) from {', '.join(changed_names)}"
    )
    return cleaned, RowIssue(
        column=changed_names[0], value=None, message=message, severity="warning"
    )


def _without_error_values(
    row: list[object],
    layout: _RowLayout,
    row_number: int,
    issues: list[RowIssue],
    joined: str,
) -> list[object]:
    """Report each mapped cell that contains an Excel error such as `#N/A`.

    Workbook error cells come from the sheet scan, because calamine reads
    them as empty strings. In CSV text, Excel writes the error's text. A
    field's error rejects the row, and an extra's is left out with a
    warning. Return the row without the extras' error values.
    """
    found = list(layout.error_columns.get(row_number, ()))
    if "#" in joined:
        found += [
            (index, value.strip())
            for index, value in enumerate(row)
            if isinstance(value, str) and "#" in value and value.strip() in EXCEL_ERRORS
        ]
    cleaned = row
    for index, text in found:
        name = layout.names.get(index)
        if name is None:
            continue
        message = (
            f"cell {column_letter(index)}{row_number} ({name}) contains the Excel "
            f"error {text}; fix the formula or type the value in Excel, then "
            "upload the file again"
        )
        if index not in layout.extra_indexes:
            issues.append(RowIssue(column=name, value=text, message=message))
            continue
        if cleaned is row:
            cleaned = list(row)
        cleaned[index] = None
        issues.append(
            RowIssue(
                column=name,
                value=text,
                message=f"{message}{_LEFT_OUT}",
                severity="warning",
            )
        )
    return cleaned


def _without_undecodable(
    row: list[object],
    layout: _RowLayout,
    row_number: int,
    issues: list[RowIssue],
    joined: str,
) -> list[object]:
    """Report each mapped cell that contains U+FFFD, the mark of undecodable bytes.

    The key or name cell rejects the row. Any other such cell is left out
    with a warning, so its stored value is kept. Return the row without
    those cells.
    """
    if _REPLACEMENT_CHARACTER not in joined:
        return row
    cleaned = row
    for index, value in enumerate(row):
        if not isinstance(value, str) or _REPLACEMENT_CHARACTER not in value:
            continue
        name = layout.names.get(index)
        if name is None:
            continue
        message = (
            f"cell {column_letter(index)}{row_number} ({name}) contains characters "
            f"that could not be decoded (shown as {_REPLACEMENT_CHARACTER}), as "
            "when a file mixes encodings; save the file as CSV UTF-8 and upload "
            "it again"
        )
        if index in (layout.key, layout.name):
            issues.append(RowIssue(column=name, value=_shown(value), message=message))
            continue
        if cleaned is row:
            cleaned = list(row)
        cleaned[index] = None
        column = "latitude" if index == layout.longitude else name
        issues.append(
            RowIssue(
                column=column,
                value=_shown(value),
                message=f"{message}{_LEFT_OUT}",
                severity="warning",
            )
        )
    return cleaned


def _inexact_number_issues(
    value: float, index: int, layout: _RowLayout, row_number: int
) -> list[RowIssue]:
    """Reject a key or credit number stored as a number that may have lost digits.

    Excel keeps 15 significant digits of a number, so a whole number of 16
    digits or more, or one with a fraction, is not the identifier typed.
    """
    if value.is_integer() and abs(value) < MAX_EXACT_NUMERIC_KEY:
        return []
    name = layout.names[index]
    if abs(value) >= MAX_EXACT_NUMERIC_KEY:
        reason = "has 16 digits or more, but Excel keeps only 15, so digits may be lost"
    else:
        reason = "is not a whole number"
    shown = as_text(value)
    message = (
        f"cell {column_letter(index)}{row_number} ({name}) contains the number "
        f"{shown}, which {reason}; format the column as text in Excel, type "
        "the values again and upload the file again"
    )
    return [RowIssue(column=name, value=shown, message=message)]


def _ragged_row(
    row: list[object], header_cells: int, layout: _RowLayout, row_number: int
) -> tuple[RowIssue | None, frozenset[str]]:
    """Warn about a CSV row with fewer or more cells than its header.

    Return the warning and the fields whose cells the row lacks, so the
    stored values of those fields are kept rather than cleared.
    """
    count = len(row)
    counts = f"row {row_number} has {count} cells but the header has {header_cells}"
    if count < header_cells:
        missing = [
            layout.names.get(index, column_letter(index))
            for index in range(count, header_cells)
        ]
        message = (
            f"{counts}; the cells of {', '.join(missing)} are missing, so their "
            "stored values are kept; check the row for a missing separator or "
            "a line break inside an unquoted cell"
        )
        issue = RowIssue(
            column=missing[0], value=None, message=message, severity="warning"
        )
        return issue, frozenset(missing)
    ignored = [
        index for index in range(header_cells, count) if not is_blank(row[index])
    ]
    if not ignored:
        return None, frozenset()
    cells = [f"{column_letter(index)}{row_number}" for index in ignored[:5]]
    shown = ", ".join(cells) + (" and more" if len(ignored) > 5 else "")
    message = (
        f"{counts}; the values in {shown} have no header and were ignored; give "
        "those columns a header, or quote cells that contain the separator"
    )
    issue = RowIssue(
        column=column_letter(ignored[0]),
        value=_shown(row[ignored[0]]),
        message=message,
        severity="warning",
    )
    return issue, frozenset()


def _formula_issues(row_number: int, layout: _RowLayout) -> list[RowIssue]:
    issues = []
    for column in layout.formula_columns.get(row_number, ()):
        reference = f"{column_letter(column - 1)}{row_number}"
        message = (
            f"cell {reference} holds a formula with no saved result, so its value "
            "is unknown; open the file in Excel, let it recalculate, save it and "
            "upload it again, or type the value"
        )
        issues.append(
            RowIssue(
                column=layout.names.get(column - 1, reference),
                value=reference,
                message=message,
            )
        )
    return issues


def _required_text(
    value: object, name: str, max_chars: int, issues: list[RowIssue]
) -> str | None:
    if is_blank(value):
        issues.append(
            RowIssue(
                column=name, value=None, message=f"{name} is required and is empty"
            )
        )
        return None
    try:
        return check_text(as_text(value), max_chars=max_chars)
    except ValueProblem as problem:
        issues.append(
            RowIssue(column=name, value=_shown(value), message=f"{name} {problem}")
        )
        return None


def _set_credit_number(
    account: AccountRow, value: object, issues: list[RowIssue]
) -> None:
    if is_blank(value):
        return
    try:
        account.credit_number = check_text(as_text(value), max_chars=KEY_MAX_CHARS)
    except ValueProblem as problem:
        issues.append(_warning("credit_number", value, problem))


def _set_numbers(
    account: AccountRow,
    row: list[object],
    layout: _RowLayout,
    currency: str,
    issues: list[RowIssue],
) -> None:
    if layout.balance is not None:
        value = row[layout.balance]
        amount = plain_amount(value)
        if amount is None:
            _set_balance(account, value, currency, issues)
        else:
            account.balance_overdue = amount
    if layout.days is not None:
        value = row[layout.days]
        days = plain_days(value)
        if days is None:
            _set_days(account, value, issues)
        else:
            account.days_past_due = days


def _set_balance(
    account: AccountRow, value: object, currency: str, issues: list[RowIssue]
) -> None:
    if is_blank(value):
        return
    try:
        account.balance_overdue = parse_money(value, currency=currency)
    except ValueProblem as problem:
        issues.append(
            RowIssue(
                column="balance_overdue", value=as_text(value), message=str(problem)
            )
        )


def _set_days(account: AccountRow, value: object, issues: list[RowIssue]) -> None:
    if is_blank(value):
        return
    try:
        account.days_past_due = parse_days(value)
    except ValueProblem as problem:
        issues.append(
            RowIssue(column="days_past_due", value=as_text(value), message=str(problem))
        )


def _set_text(
    account: AccountRow,
    text_field: str,
    value: object,
    max_chars: int,
    issues: list[RowIssue],
) -> None:
    if is_blank(value):
        return
    try:
        setattr(account, text_field, check_text(as_text(value), max_chars=max_chars))
    except ValueProblem as problem:
        issues.append(
            RowIssue(
                column=text_field,
                value=_shown(value),
                message=f"{text_field} {problem}",
            )
        )


def _set_contacts(
    account: AccountRow, row: list[object], layout: _RowLayout, issues: list[RowIssue]
) -> None:
    """Set the postal code, checked against the state, and the phone."""
    if layout.postal_code is not None:
        value = row[layout.postal_code]
        postal_code = plain_postal_code(value)
        if postal_code is None:
            _set_postal_code(account, value, issues)
        else:
            account.postal_code = postal_code
        _check_postal_code(account, value, issues)
    if layout.phone is not None:
        value = row[layout.phone]
        if value is not None and value != "":
            _set_phone(account, value, issues)


def _set_postal_code(
    account: AccountRow, value: object, issues: list[RowIssue]
) -> None:
    if is_blank(value):
        return
    try:
        account.postal_code = parse_postal_code(value)
    except ValueProblem as problem:
        issues.append(_warning("postal_code", value, problem))


def _check_postal_code(
    account: AccountRow, value: object, issues: list[RowIssue]
) -> None:
    if account.postal_code is None:
        return
    problem_text = postal_code_problem(account.postal_code, account.state)
    if problem_text is not None:
        issues.append(
            RowIssue(
                column="postal_code",
                value=_shown(value),
                message=problem_text,
                severity="warning",
            )
        )


def _set_phone(account: AccountRow, value: object, issues: list[RowIssue]) -> None:
    if is_blank(value):
        return
    try:
        account.phone = phone_e164(value)
    except ValueProblem as problem:
        issues.append(_warning("phone", value, problem))


def phone_e164(value: object) -> str:
    """Return the number in E.164, as `parse_phone` does, faster for most numbers.

    A Mexican number written as 10 digits, with spaces or hyphens at most,
    is checked against the phonenumbers patterns directly. Anything else,
    and every number those patterns reject, goes through `parse_phone`.
    """
    if type(value) is str and len(value) == 10 and value.isascii():
        digits = value
    else:
        digits = as_text(value).translate(_PHONE_SEPARATORS)
    if len(digits) == 10 and digits.isascii() and digits.isdigit():
        if _MX_VALID_STARTS is not None:
            valid = digits[:3] in _MX_VALID_STARTS
        else:
            valid = bool(
                _MX_NUMBER.fullmatch(digits) and _MX_NUMBER_TYPE.fullmatch(digits)
            )
        if valid:
            return "+52" + digits
    return parse_phone(value)


def _set_date(
    account: AccountRow,
    date_field: str,
    value: object,
    context: RowContext,
    issues: list[RowIssue],
) -> None:
    if is_blank(value):
        return
    try:
        parsed = parse_date(value, date1904=context.date1904, today=context.today)
    except ValueProblem as problem:
        issues.append(_warning(date_field, value, problem))
        return
    setattr(account, date_field, parsed)


def _set_location(
    account: AccountRow, row: list[object], layout: _RowLayout, issues: list[RowIssue]
) -> None:
    lat_cell = None if layout.latitude is None else row[layout.latitude]
    lon_cell = None if layout.longitude is None else row[layout.longitude]
    lat = plain_coordinate(lat_cell)
    lon = plain_coordinate(lon_cell)
    if lat is None or lon is None:
        _set_location_cells(account, lat_cell, lon_cell, issues)
    else:
        _place(account, lat, lon, lat_cell, lon_cell, issues)


def _set_location_cells(
    account: AccountRow, lat_cell: object, lon_cell: object, issues: list[RowIssue]
) -> None:
    if is_blank(lat_cell) and is_blank(lon_cell):
        return
    if is_blank(lat_cell) or is_blank(lon_cell):
        column = "latitude" if is_blank(lat_cell) else "longitude"
        issues.append(
            RowIssue(
                column=column,
                value=None,
                message="latitude and longitude come together; one is empty",
                severity="warning",
            )
        )
        return
    try:
        lat = parse_coordinate(lat_cell, name="latitude")
        lon = parse_coordinate(lon_cell, name="longitude")
    except ValueProblem as problem:
        issues.append(_warning("latitude", lat_cell, problem))
        return
    _place(account, lat, lon, lat_cell, lon_cell, issues)


def _place(
    account: AccountRow,
    lat: float,
    lon: float,
    lat_cell: object,
    lon_cell: object,
    issues: list[RowIssue],
) -> None:
    account.latitude, account.longitude, warning = check_location(lat, lon)
    if warning:
        issues.append(
            RowIssue(
                column="latitude",
                value=f"{as_text(lat_cell)}, {as_text(lon_cell)}",
                message=warning,
                severity="warning",
            )
        )


def _extras(
    row: list[object], extras: tuple[tuple[str, int], ...], issues: list[RowIssue]
) -> dict[str, str]:
    values = {}
    for name, index in extras:
        value = row[index]
        text = plain_text(value, MAX_EXTRA_CHARS)
        if text is not None:
            values[name] = text
            continue
        if is_blank(value):
            continue
        try:
            values[name] = check_text(as_text(value), max_chars=MAX_EXTRA_CHARS)
        except ValueProblem as problem:
            issues.append(_warning(name, value, problem))
    return values


def _shown(value: object) -> str:
    """Return a value short and clean enough to echo in the report."""
    return as_text(value).replace("\x00", "")[:200]


def _warning(column: str, value: object, problem: ValueProblem) -> RowIssue:
    return RowIssue(
        column=column,
        value=_shown(value),
        message=f"{problem}{_LEFT_OUT}",
        severity="warning",
    )


def _kept_fields(
    columns: ColumnMap,
    issues: list[RowIssue],
    missing: frozenset[str] = frozenset(),
) -> set[str]:
    """Name the fields whose stored value the upload keeps.

    Those are the fields without a column in the file, the `missing` fields
    whose cells a short row lacks, and those whose cell failed with a
    warning. `location` stands for the coordinates.
    """
    kept = {
        name
        for name in KEEPABLE_FIELDS
        if name not in columns.fields or name in missing
    }
    left_out = {
        issue.column
        for issue in issues
        if issue.severity == "warning" and issue.message.endswith(_LEFT_OUT)
    }
    kept |= left_out & set(KEEPABLE_FIELDS)
    coordinates = ("latitude", "longitude")
    if "latitude" in left_out or any(
        n not in columns.fields or n in missing for n in coordinates
    ):
        kept.add("location")
    return kept
