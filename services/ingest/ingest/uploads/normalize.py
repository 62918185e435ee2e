"""Check and normalise one row's values into an account.

Required values (the account key and the debtor's name) and malformed
numbers reject the row. A bad optional value (a phone, a postal code,
coordinates) is dropped with a warning, so the account is still stored
and the report shows the director what to fix.
"""

import math
import re
import unicodedata
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers

# Mexico's bounding box, mainland and islands, in degrees.
MX_LAT_RANGE = (14.3, 32.8)
MX_LON_RANGE = (-118.6, -86.5)
(_LAT_MIN, _LAT_MAX), (_LON_MIN, _LON_MAX) = MX_LAT_RANGE, MX_LON_RANGE

# Numeric(14, 2) in the accounts table stores amounts below 10^12.
MAX_AMOUNT = Decimal(10) ** 12
MAX_DAYS_PAST_DUE = 36_500
MAX_CELL_CHARS = 10_000

_MONEY_CLEAN = re.compile(r"[\s$]")
# An amount as most files write it: up to 12 ASCII digits (amounts stay
# below 10^12) and at most two decimals after a point.
_PLAIN_AMOUNT = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,2})?")
_CENT = Decimal("0.01")
# Distance from a whole number of cents within which a float amount is
# taken as that number of cents.
CENT_TOLERANCE = Decimal("1e-9")
# Days as CSV text writes them: digits, perhaps with a sign or a zero fraction
# such as `45.0`. Exponents such as `1e3` are not accepted.
_EXPONENT_NUMBER = re.compile(r"[+-]?[\d.,]*\d[eE][+-]?\d+")
_DAYS_TEXT = re.compile(r"[+-]?[0-9]+(?:\.0*)?")
# ISO 4217 codes of the currencies portfolio files in the region carry.
_CURRENCY_CODE = re.compile(
    r"(?<![A-Za-z])(MXN|USD|EUR|CAD|GTQ|HNL|COP|PEN|CLP|ARS|BRL|UYU|DOP|CRC)"
    r"(?![A-Za-z])",
    re.IGNORECASE,
)


class ValueProblem(ValueError):
    """An unusable value; the message explains why and what is expected."""


@dataclass(slots=True)
class RowIssue:
    column: str
    value: str | None
    message: str
    severity: str = "error"


# A million-row upload keeps a million of these in memory at once, so they
# have slots.
@dataclass(slots=True)
class AccountRow:
    account_key: str
    debtor_name: str
    credit_number: str | None = None
    balance_overdue: Decimal | None = None
    days_past_due: int | None = None
    street: str | None = None
    exterior_number: str | None = None
    interior_number: str | None = None
    colonia: str | None = None
    postal_code: str | None = None
    municipality: str | None = None
    state: str | None = None
    cross_streets: str | None = None
    address_references: str | None = None
    phone: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    last_payment_date: date | None = None
    birth_date: date | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Fields whose stored value an upload keeps: their column is missing
    # from the file, or their cell failed with a warning. `location` stands
    # for the coordinates.
    kept_fields: AbstractSet[str] = frozenset()


# Zero-width characters and Unicode bidirectional controls: invisible in a
# spreadsheet, but they make `Z1` and `Z\u200b1` two different account keys.
_INVISIBLE = re.compile(
    "[\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


def strip_invisible(value: str) -> str:
    """Return `value` without zero-width characters and bidi controls."""
    if value.isascii():
        return value
    return _INVISIBLE.sub("", value)


def contains_invisible(value: str) -> bool:
    """Tell whether `value` has a character that `strip_invisible` removes."""
    return not value.isascii() and _INVISIBLE.search(value) is not None


def is_blank(value: object) -> bool:
    if value is None:
        return True
    return isinstance(value, str) and (not value or value.isspace())


def check_text(value: str, *, max_chars: int) -> str:
    """Return the text when it fits its column; NUL cannot be stored at all."""
    if "\x00" in value:
        raise ValueProblem("contains a NUL character; remove it and upload again")
    if len(value) > max_chars:
        raise ValueProblem(f"is {len(value)} characters long; at most {max_chars} fit")
    return value


def as_text(value: object) -> str:
    """Render a cell as text; Excel numbers like 12345.0 lose the `.0`.

    Whitespace runs collapse to one space, and accents are composed (NFC), so
    a name typed on a Mac compares equal to the same name typed on Windows.
    """
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return unicodedata.normalize("NFC", " ".join(str(value).split()))


def plain_text(value: object, max_chars: int) -> str | None:
    """Return `value` when `check_text(as_text(value))` would return it as it is.

    That holds for a printable string without leading, trailing or doubled
    spaces that is already in NFC and fits `max_chars`. Return None for
    anything else, which the caller passes to the reference functions.
    """
    if (
        type(value) is str
        and 0 < len(value) <= max_chars
        and value.isprintable()
        and value[0] != " "
        and value[-1] != " "
        and "  " not in value
        and (value.isascii() or unicodedata.is_normalized("NFC", value))
    ):
        return value
    return None


def plain_amount(value: object) -> Decimal | None:
    """Return what `parse_money` returns for ASCII digits with an optional `.d(d)`.

    Return None for any other value, which `parse_money` then parses or rejects.
    """
    if type(value) is not str or _PLAIN_AMOUNT.fullmatch(value) is None:
        return None
    if len(value) > 3 and value[-3] == ".":
        return Decimal(value)
    return Decimal(value).quantize(_CENT)


def plain_days(value: object) -> int | None:
    """Return what `parse_days` returns for up to five ASCII digits or a whole number.

    Return None for anything else, which `parse_days` then reads or rejects.
    """
    if (
        type(value) is str
        and 0 < len(value) <= 5
        and value.isascii()
        and value.isdigit()
    ):
        days = int(value)
        return days if days <= MAX_DAYS_PAST_DUE else None
    if type(value) is int and 0 <= value <= MAX_DAYS_PAST_DUE:
        return value
    # Workbooks store numbers as floats, such as 45.0 for 45 days.
    if type(value) is float and value.is_integer() and 0 <= value <= MAX_DAYS_PAST_DUE:
        return int(value)
    return None


def plain_postal_code(value: object) -> str | None:
    """Return a postal code written as five ASCII digits as it is, else None."""
    if type(value) is str and len(value) == 5 and value.isascii() and value.isdigit():
        return value
    return None


def plain_coordinate(value: object) -> float | None:
    """Return what `parse_coordinate` returns for a finite float or decimal text.

    Return None for anything else, such as blank cells, a decimal comma or
    text that is not a number, which `parse_coordinate` then handles.
    """
    if type(value) is float:
        number = value
    elif type(value) is str and value and "," not in value:
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def parse_money(value: object, *, currency: str = "MXN") -> Decimal:
    """Parse `1234.5`, `1,234.56`, `1.234,56` and `$12,345.67` into a decimal.

    A currency code in the text (`1,200.00 MXN`) must be the tenant's
    `currency`, because amounts are stored without converting them.
    """
    if isinstance(value, bool):
        raise ValueProblem("expected an amount such as 1234.56")
    if isinstance(value, float):
        amount = _float_amount(value)
    elif isinstance(value, int):
        amount = Decimal(value)
    else:
        text = _strip_currency(str(value), currency)
        original = str(value).strip()[:40]
        text = _resolve_separators(_MONEY_CLEAN.sub("", text), original)
        if not text.isascii() or "_" in text:
            raise ValueProblem(
                f"{original} is not written with the digits 0-9 alone; write the "
                "amount as 1234.56"
            )
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueProblem(
                "expected an amount such as 1234.56 or 1.234,56"
            ) from None
        # `1.234` could be 1234 with a Spanish thousands dot or 1.234 with a
        # decimal point; rounding either way would change the debt silently.
        exponent = amount.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -2:
            raise ValueProblem(
                f"{str(value).strip()[:40]} is ambiguous because an amount has at "
                "most two decimals; write 1234 for thousands or 1.23 for cents"
            )
    if not amount.is_finite():
        raise ValueProblem("expected a finite amount such as 1234.56")
    if amount < 0:
        raise ValueProblem("an overdue balance cannot be negative")
    if amount >= MAX_AMOUNT:
        raise ValueProblem(f"the amount is too large; the maximum is {MAX_AMOUNT - 1}")
    return amount.quantize(_CENT)


def _float_amount(value: float) -> Decimal:
    """Return a number cell's amount in cents, or raise when it has sub-cent digits.

    Excel arithmetic leaves noise such as 116.00000000000001, so a value
    within CENT_TOLERANCE of a whole number of cents counts as that amount.
    """
    if not math.isfinite(value):
        raise ValueProblem("expected a finite amount")
    # repr gives the shortest decimal that reads back as the same float,
    # which is the number the cell or JSON document wrote.
    amount = Decimal(repr(value))
    if abs(amount) >= MAX_AMOUNT:
        return amount
    cents = amount.quantize(_CENT)
    if abs(amount - cents) > CENT_TOLERANCE:
        raise ValueProblem(
            f"{value!r} has more than two decimals; an amount is stored in cents, "
            "so round it to two decimals, such as 1234.56"
        )
    # Noise below zero, such as -1e-12, rounds to zero, stored without a sign.
    return cents.copy_abs() if cents.is_zero() else cents


def _strip_currency(text: str, currency: str) -> str:
    codes = {code.upper() for code in _CURRENCY_CODE.findall(text)}
    other = codes - {currency}
    if other:
        raise ValueProblem(
            f"the amount is in {', '.join(sorted(other))[:40]} but the tenant's "
            f"currency is {currency}; convert it to {currency} or remove the code"
        )
    return _CURRENCY_CODE.sub("", text)


def _resolve_separators(text: str, original: str) -> str:
    """Return the amount with `.` as its only separator, the decimal point.

    When both `,` and `.` appear, the last one is the decimal mark and the
    other must group digits in threes. A separator used more than once
    groups thousands. A single `,` followed by exactly three digits groups
    thousands (`1,234` is 1234), as Mexican files write amounts with a
    decimal point. A single `.` followed by three digits could be a
    Spanish thousands dot or a mistyped decimal, so it is rejected.
    """
    if _EXPONENT_NUMBER.fullmatch(text):
        raise ValueProblem(
            f"{original} is written with an exponent; write the amount in full, "
            "such as 1234.56"
        )
    if "," in text and "." in text:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        group = "." if decimal == "," else ","
        whole, _, fraction = text.rpartition(decimal)
        if decimal in whole or group in fraction or not _is_grouped(whole, group):
            raise _malformed_grouping(original)
        return whole.replace(group, "") + "." + fraction
    if "," in text:
        separator = ","
    elif "." in text:
        separator = "."
    else:
        return text
    if text.count(separator) > 1:
        if not _is_grouped(text, separator):
            raise _malformed_grouping(original)
        return text.replace(separator, "")
    head, _, tail = text.partition(separator)
    one_group = len(tail) == 3 and tail.isdigit() and head.lstrip("+-").isdigit()
    if one_group and separator == ",":
        return head + tail
    if one_group:
        raise ValueProblem(
            f"{original} is ambiguous because . may group thousands or mark "
            "decimals; write 1234 for thousands or 1.23 for cents"
        )
    return head + "." + tail


def _is_grouped(whole: str, group: str) -> bool:
    """Tell whether `whole` is digits grouped in threes by `group`, or plain digits."""
    pattern = rf"[+-]?\d{{1,3}}(?:{re.escape(group)}\d{{3}})*|[+-]?\d+"
    return re.fullmatch(pattern, whole) is not None


def _malformed_grouping(original: str) -> ValueProblem:
    return ValueProblem(
        f"{original} has malformed digit grouping; group thousands in threes, "
        "as in 1,234,567.89 or 1.234.567,89"
    )


def parse_days(value: object) -> int:
    if isinstance(value, bool):
        raise ValueProblem("expected a whole number of days, such as 45, not a boolean")
    if isinstance(value, str) and _DAYS_TEXT.fullmatch(value.strip()) is None:
        raise ValueProblem(
            f"expected a whole number of days written in digits, such as 45, "
            f"not {value.strip()[:40]}"
        )
    try:
        number = (
            float(str(value).strip()) if not isinstance(value, int | float) else value
        )
    except ValueError:
        raise ValueProblem("expected a whole number of days, such as 45") from None
    if not math.isfinite(number) or not float(number).is_integer() or number < 0:
        raise ValueProblem("expected a whole number of days, 0 or more")
    if number > MAX_DAYS_PAST_DUE:
        raise ValueProblem(f"more than {MAX_DAYS_PAST_DUE} days (100 years) past due")
    return int(number)


def parse_postal_code(value: object) -> str:
    """Restore a postal code to five digits: Excel stores 06600 as the number 6600."""
    text = as_text(value).replace(" ", "")
    if not text.isascii() or not text.isdigit() or not 4 <= len(text) <= 5:
        raise ValueProblem("expected a five-digit postal code, such as 06600")
    return text.zfill(5)


def parse_phone(value: object, *, region: str = "MX") -> str:
    text = as_text(value)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValueProblem("expected a phone number, such as 55 1234 5678") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueProblem(f"not a valid phone number for region {region}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_coordinate(value: object, *, name: str) -> float:
    try:
        number = (
            float(str(value).replace(",", ".")) if isinstance(value, str) else value
        )
    except ValueError:
        raise ValueProblem(f"expected a decimal {name}, such as 19.4326") from None
    if not isinstance(number, int | float) or not math.isfinite(number):
        raise ValueProblem(f"expected a decimal {name}, such as 19.4326")
    return float(number)


def check_location(
    lat: float, lon: float
) -> tuple[float | None, float | None, str | None]:
    """Return usable coordinates and a warning; 0,0 is missing, a swap is fixed."""
    if _LAT_MIN <= lat <= _LAT_MAX and _LON_MIN <= lon <= _LON_MAX:
        return lat, lon, None
    if lat == 0 and lon == 0:
        return None, None, "0,0 is not a real location; the account has no coordinates"
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        if -90 <= lon <= 90 and -180 <= lat <= 180 and _in_mexico(lon, lat):
            return lon, lat, "latitude and longitude were swapped; fixed"
        return (
            None,
            None,
            "coordinates out of range: latitude must be -90 to 90 and longitude "
            "-180 to 180; the account has no coordinates",
        )
    if not _in_mexico(lat, lon) and _in_mexico(lon, lat):
        return lon, lat, "latitude and longitude were swapped; fixed"
    return lat, lon, None


def _in_mexico(lat: float, lon: float) -> bool:
    return (
        MX_LAT_RANGE[0] <= lat <= MX_LAT_RANGE[1]
        and MX_LON_RANGE[0] <= lon <= MX_LON_RANGE[1]
    )
