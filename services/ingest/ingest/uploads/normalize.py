"""Check and normalise one row's values into an account.

Required values (the account key and the debtor's name) and malformed
numbers reject the row. A bad optional value (a phone, a postal code,
coordinates) is dropped with a warning, so the account is still stored
and the report shows the director what to fix.
"""

import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers

# Mexico's bounding box, mainland and islands, in degrees.
MX_LAT_RANGE = (14.3, 32.8)
MX_LON_RANGE = (-118.6, -86.5)

# Numeric(14, 2) in the accounts table stores amounts below 10^12.
MAX_AMOUNT = Decimal(10) ** 12
MAX_DAYS_PAST_DUE = 36_500
MAX_CELL_CHARS = 10_000

_MONEY_CLEAN = re.compile(r"[\s$]")
# ISO 4217 codes of the currencies portfolio files in the region carry.
_CURRENCY_CODE = re.compile(
    r"(?<![A-Za-z])(MXN|USD|EUR|CAD|GTQ|HNL|COP|PEN|CLP|ARS|BRL|UYU|DOP|CRC)"
    r"(?![A-Za-z])",
    re.IGNORECASE,
)


class ValueProblem(ValueError):
    """An unusable value; the message explains why and what is expected."""


@dataclass
class RowIssue:
    column: str
    value: str | None
    message: str
    severity: str = "error"


@dataclass
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


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


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


def parse_money(value: object, *, currency: str = "MXN") -> Decimal:
    """Parse `1234.5`, `1,234.56`, `1.234,56` and `$12,345.67` into a decimal.

    A currency code in the text (`1,200.00 MXN`) must be the tenant's
    `currency`, because amounts are stored without converting them.
    """
    if isinstance(value, bool):
        raise ValueProblem("expected an amount such as 1234.56")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueProblem("expected a finite amount")
        amount = Decimal(str(value))
    else:
        text = _strip_currency(str(value), currency)
        text = _resolve_separators(_MONEY_CLEAN.sub("", text))
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
    return amount.quantize(Decimal("0.01"))


def _strip_currency(text: str, currency: str) -> str:
    codes = {code.upper() for code in _CURRENCY_CODE.findall(text)}
    other = codes - {currency}
    if other:
        raise ValueProblem(
            f"the amount is in {', '.join(sorted(other))[:40]} but the tenant's "
            f"currency is {currency}; convert it to {currency} or remove the code"
        )
    return _CURRENCY_CODE.sub("", text)


def _resolve_separators(text: str) -> str:
    if "," in text and "." in text:
        # Whichever separator comes last is the decimal one.
        if text.rfind(",") > text.rfind("."):
            return text.replace(".", "").replace(",", ".")
        return text.replace(",", "")
    if "," in text:
        head, _, tail = text.rpartition(",")
        # `1,234` is a thousands group; `1234,5` and `12,50` are decimals.
        if len(tail) == 3 and head.replace(",", "").isdigit():
            return text.replace(",", "")
        return head.replace(",", "") + "." + tail
    if text.count(".") > 1:
        return text.replace(".", "")
    return text


def parse_days(value: object) -> int:
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
