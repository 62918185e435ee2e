"""Read dates as portfolio files carry them.

A workbook cell formatted as a date arrives from calamine as a date. A date
column without that format carries the Excel serial number, counted from
1899-12-30 in the 1900 date system (Excel for Windows) or from 1904-01-01
in the 1904 system (old Excel for Mac), and `workbookPr date1904` records which.
Text is read as `dd/mm/yyyy` (the order used in Mexico) or ISO `yyyy-mm-dd`.
"""

import math
import re
from datetime import date, datetime, timedelta

from ingest.uploads.normalize import ValueProblem

EPOCH_1900 = date(1899, 12, 30)
EPOCH_1904 = date(1904, 1, 1)
EARLIEST = date(1900, 3, 1)

_DAY_FIRST = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_PLAIN_DAY_FIRST = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_PLAIN_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def from_serial(serial: float, *, date1904: bool) -> date:
    """Convert an Excel serial number; serials before March 1900 are rejected.

    The 1900 system counts a 29 February 1900 that never existed, so its
    serials below 61 do not map onto real dates with one epoch.
    """
    if not math.isfinite(serial) or serial < 0:
        raise ValueProblem("expected a date such as 31/12/2024")
    epoch = EPOCH_1904 if date1904 else EPOCH_1900
    try:
        day = epoch + timedelta(days=int(serial))
    except OverflowError:
        raise ValueProblem("expected a date such as 31/12/2024") from None
    if day < EARLIEST:
        raise ValueProblem("the date is before March 1900; expected a real date")
    return day


def plain_date(value: object, *, today: date) -> date | None:
    """Return what `parse_date` returns for `dd/mm/yyyy` or `yyyy-mm-dd` text.

    Only ASCII digits in exactly that layout are read here, and only dates
    from March 1900 up to `today`. Return None for anything else, so that
    `parse_date` parses it or raises its own message.
    """
    if type(value) is not str or len(value) != 10 or not value.isascii():
        return None
    if match := _PLAIN_DAY_FIRST.fullmatch(value):
        day, month, year = match.groups()
    elif match := _PLAIN_ISO.fullmatch(value):
        year, month, day = match.groups()
    else:
        return None
    try:
        parsed = date(int(year), int(month), int(day))
    except ValueError:
        return None
    return parsed if EARLIEST <= parsed <= today else None


def parse_date(value: object, *, date1904: bool = False, today: date) -> date:
    """Parse a cell into a date no later than `today`."""
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    elif isinstance(value, bool):
        raise ValueProblem("expected a date such as 31/12/2024")
    elif isinstance(value, int | float):
        day = from_serial(float(value), date1904=date1904)
    else:
        day = _parse_text(str(value).strip())
    if day > today:
        raise ValueProblem(f"the date {day.isoformat()} is in the future")
    if day < EARLIEST:
        raise ValueProblem("the date is before March 1900; expected a real date")
    return day


def _parse_text(text: str) -> date:
    if match := _DAY_FIRST.match(text):
        day, month, year = (int(part) for part in match.groups())
    elif match := _ISO.match(text):
        year, month, day = (int(part) for part in match.groups())
    else:
        raise ValueProblem(
            "expected a date as dd/mm/yyyy (31/12/2024) or yyyy-mm-dd (2024-12-31)"
        )
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueProblem(
            f"{text} is not a calendar date; expected dd/mm/yyyy, day first"
        ) from None
