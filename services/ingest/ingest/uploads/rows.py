"""Turn one data row into an account, or into the issues that stop it."""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from phonenumbers import PhoneMetadata

from ingest.uploads.columns import DATE_FIELDS, ColumnMap, column_letter
from ingest.uploads.dates import parse_date
from ingest.uploads.normalize import (
    AccountRow,
    RowIssue,
    ValueProblem,
    as_text,
    check_location,
    check_text,
    is_blank,
    parse_coordinate,
    parse_days,
    parse_money,
    parse_phone,
    parse_postal_code,
    strip_invisible,
)
from ingest.uploads.postal_codes import postal_code_problem

CellReader = Callable[[str], object]

# The patterns phonenumbers checks a Mexican national number against, so a
# plain 10-digit number is checked without parsing it in full.
_MX_METADATA = PhoneMetadata.metadata_for_region("MX")
_MX_NUMBER = re.compile(_MX_METADATA.general_desc.national_number_pattern)
_MX_NUMBER_TYPES = [
    re.compile(desc.national_number_pattern)
    for desc in (
        _MX_METADATA.premium_rate,
        _MX_METADATA.toll_free,
        _MX_METADATA.shared_cost,
        _MX_METADATA.voip,
        _MX_METADATA.personal_number,
        _MX_METADATA.pager,
        _MX_METADATA.uan,
        _MX_METADATA.voicemail,
        _MX_METADATA.fixed_line,
        _MX_METADATA.mobile,
    )
    if desc is not None
    and desc.national_number_pattern
    and (not desc.possible_length or 10 in desc.possible_length)
]
_PHONE_SEPARATORS = str.maketrans("", "", " -")

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
_LEFT_OUT = "; the value was left out and any stored value is kept"
NAME_MAX_CHARS = 300
MAX_EXTRA_CHARS = 2_000


@dataclass
class RowContext:
    """Settings shared by every row of one file."""

    columns: ColumnMap
    today: date
    currency: str = "MXN"
    date1904: bool = False
    # 1-based (row, column) of formulas with no saved result.
    formulas_without_value: set[tuple[int, int]] = field(default_factory=set)


@dataclass(slots=True)
class ParsedRow:
    row_number: int
    account: AccountRow | None
    issues: list[RowIssue] = field(default_factory=list)


def parse_row(row: list[object], context: RowContext, *, row_number: int) -> ParsedRow:
    columns = context.columns
    row, invisible_issue = _without_invisible(row, columns, row_number)

    def cell(name: str) -> object:
        index = columns.fields.get(name)
        return row[index] if index is not None and index < len(row) else None

    issues = _formula_issues(row_number, context)
    if invisible_issue is not None:
        issues.append(invisible_issue)
    key = _required_text(
        cell(columns.key_field()), "account_key", KEY_MAX_CHARS, issues
    )
    if key is not None and not key.isascii():
        # NFKC turns full-width `Ｚ1` into `Z1`, so the same key typed with
        # another keyboard layout names the same account.
        key = unicodedata.normalize("NFKC", key)
    name = _required_text(cell("debtor_name"), "debtor_name", NAME_MAX_CHARS, issues)
    account = AccountRow(account_key=key or "", debtor_name=name or "")
    _set_credit_number(account, cell, issues)
    _set_numbers(account, cell, context.currency, issues)
    _set_texts(account, cell, issues)
    _set_optional(account, cell, issues)
    _set_dates(account, cell, context, issues)
    _set_location(account, cell, issues)
    account.extra = _extras(row, columns, issues)
    account.kept_fields = _kept_fields(columns, issues)
    rejected = any(issue.severity == "error" for issue in issues)
    return ParsedRow(row_number, None if rejected else account, issues)


def _without_invisible(
    row: list[object], columns: ColumnMap, row_number: int
) -> tuple[list[object], RowIssue | None]:
    """Remove zero-width characters and bidi controls from the row's text cells.

    Return the cleaned row and a warning that names the columns changed.
    """
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
    names = {index: name for name, index in columns.fields.items()}
    names |= {index: name for name, index in columns.extras.items()}
    changed_names = [names.get(index, column_letter(index)) for index in changed]
    message = (
        f"row {row_number}: removed invisible characters (zero-width or "
        f"bidirectional controls) from {', '.join(changed_names)}"
    )
    return cleaned, RowIssue(changed_names[0], None, message, severity="warning")


def _formula_issues(row_number: int, context: RowContext) -> list[RowIssue]:
    names = {index: name for name, index in context.columns.fields.items()}
    names |= {index: name for name, index in context.columns.extras.items()}
    issues = []
    for row, column in sorted(context.formulas_without_value):
        if row != row_number:
            continue
        reference = f"{column_letter(column - 1)}{row}"
        message = (
            f"cell {reference} holds a formula with no saved result, so its value "
            "is unknown; open the file in Excel, let it recalculate, save it and "
            "upload it again, or type the value"
        )
        issues.append(RowIssue(names.get(column - 1, reference), reference, message))
    return issues


def _required_text(
    value: object, name: str, max_chars: int, issues: list[RowIssue]
) -> str | None:
    if is_blank(value):
        issues.append(RowIssue(name, None, f"{name} is required and is empty"))
        return None
    try:
        return check_text(as_text(value), max_chars=max_chars)
    except ValueProblem as problem:
        issues.append(RowIssue(name, _shown(value), f"{name} {problem}"))
        return None


def _set_credit_number(
    account: AccountRow, cell: CellReader, issues: list[RowIssue]
) -> None:
    value = cell("credit_number")
    if is_blank(value):
        return
    try:
        account.credit_number = check_text(as_text(value), max_chars=KEY_MAX_CHARS)
    except ValueProblem as problem:
        issues.append(_warning("credit_number", value, problem))


def _set_numbers(
    account: AccountRow, cell: CellReader, currency: str, issues: list[RowIssue]
) -> None:
    balance, days = cell("balance_overdue"), cell("days_past_due")
    if not is_blank(balance):
        try:
            account.balance_overdue = parse_money(balance, currency=currency)
        except ValueProblem as problem:
            issues.append(RowIssue("balance_overdue", as_text(balance), str(problem)))
    if not is_blank(days):
        try:
            account.days_past_due = parse_days(days)
        except ValueProblem as problem:
            issues.append(RowIssue("days_past_due", as_text(days), str(problem)))


def _set_texts(account: AccountRow, cell: CellReader, issues: list[RowIssue]) -> None:
    for text_field, max_chars in TEXT_FIELDS.items():
        value = cell(text_field)
        if is_blank(value):
            continue
        try:
            setattr(
                account, text_field, check_text(as_text(value), max_chars=max_chars)
            )
        except ValueProblem as problem:
            issues.append(
                RowIssue(text_field, _shown(value), f"{text_field} {problem}")
            )


def _set_optional(
    account: AccountRow, cell: CellReader, issues: list[RowIssue]
) -> None:
    postal_code, phone = cell("postal_code"), cell("phone")
    if not is_blank(postal_code):
        try:
            account.postal_code = parse_postal_code(postal_code)
        except ValueProblem as problem:
            issues.append(_warning("postal_code", postal_code, problem))
    if account.postal_code is not None:
        problem_text = postal_code_problem(account.postal_code, account.state)
        if problem_text is not None:
            issues.append(
                RowIssue(
                    "postal_code",
                    _shown(postal_code),
                    problem_text,
                    severity="warning",
                )
            )
    if not is_blank(phone):
        try:
            account.phone = phone_e164(phone)
        except ValueProblem as problem:
            issues.append(_warning("phone", phone, problem))


def phone_e164(value: object) -> str:
    """Return the number in E.164, as `parse_phone` does, faster for most numbers.

    A Mexican number written as 10 digits, with spaces or hyphens at most,
    is checked against the phonenumbers patterns directly. Anything else,
    and every number those patterns reject, goes through `parse_phone`.
    """
    digits = as_text(value).translate(_PHONE_SEPARATORS)
    if (
        len(digits) == 10
        and digits.isascii()
        and digits.isdigit()
        and _MX_NUMBER.fullmatch(digits)
        and any(pattern.fullmatch(digits) for pattern in _MX_NUMBER_TYPES)
    ):
        return "+52" + digits
    return parse_phone(value)


def _set_dates(
    account: AccountRow,
    cell: CellReader,
    context: RowContext,
    issues: list[RowIssue],
) -> None:
    for date_field in DATE_FIELDS:
        value = cell(date_field)
        if is_blank(value):
            continue
        try:
            parsed = parse_date(value, date1904=context.date1904, today=context.today)
        except ValueProblem as problem:
            issues.append(_warning(date_field, value, problem))
            continue
        setattr(account, date_field, parsed)


def _set_location(
    account: AccountRow, cell: CellReader, issues: list[RowIssue]
) -> None:
    lat_cell, lon_cell = cell("latitude"), cell("longitude")
    if is_blank(lat_cell) and is_blank(lon_cell):
        return
    if is_blank(lat_cell) or is_blank(lon_cell):
        column = "latitude" if is_blank(lat_cell) else "longitude"
        issues.append(
            RowIssue(
                column,
                None,
                "latitude and longitude come together; one is empty",
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
    account.latitude, account.longitude, warning = check_location(lat, lon)
    if warning:
        issues.append(
            RowIssue(
                "latitude",
                f"{as_text(lat_cell)}, {as_text(lon_cell)}",
                warning,
                severity="warning",
            )
        )


def _extras(
    row: list[object], columns: ColumnMap, issues: list[RowIssue]
) -> dict[str, str]:
    extras = {}
    for name, index in columns.extras.items():
        if index >= len(row) or is_blank(row[index]):
            continue
        try:
            extras[name] = check_text(as_text(row[index]), max_chars=MAX_EXTRA_CHARS)
        except ValueProblem as problem:
            issues.append(_warning(name, row[index], problem))
    return extras


def _shown(value: object) -> str:
    """Return a value short and clean enough to echo in the report."""
    return as_text(value).replace("\x00", "")[:200]


def _warning(column: str, value: object, problem: ValueProblem) -> RowIssue:
    return RowIssue(column, _shown(value), f"{problem}{_LEFT_OUT}", severity="warning")


def _kept_fields(columns: ColumnMap, issues: list[RowIssue]) -> set[str]:
    """Name the fields whose stored value the upload keeps.

    Those are the fields without a column in the file and those whose cell
    failed with a warning. `location` stands for the coordinates.
    """
    kept = {name for name in KEEPABLE_FIELDS if name not in columns.fields}
    left_out = {
        issue.column
        for issue in issues
        if issue.severity == "warning" and issue.message.endswith(_LEFT_OUT)
    }
    kept |= left_out & set(KEEPABLE_FIELDS)
    coordinates = ("latitude", "longitude")
    if "latitude" in left_out or any(n not in columns.fields for n in coordinates):
        kept.add("location")
    return kept
