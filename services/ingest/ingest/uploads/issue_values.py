"""What an upload's error report may show of the cell it complains about.

The report is stored, listed to every caller who may read uploads, and may
be copied into logs and tickets. So it names the row, the column and the
reason, and shows the cell only where the cell is no debtor's personal
data: a bad amount, a bad date of payment, a postal code, an Excel error.
A name, a phone or an email is shown masked, as `shared.masking` masks
them; an address, a birth date, coordinates or a column the tenant added
(free text we cannot judge) are withheld, and the message states that.
"""

import re
from dataclasses import replace

from ingest.uploads.normalize import RowIssue
from ingest.uploads.rows import EXCEL_ERRORS
from shared.masking import mask_email, mask_name, mask_phone

# Columns whose cells are figures or places by zone, not about a person.
SHOWN_COLUMNS = frozenset(
    {
        "account_key",
        "credit_number",
        "balance_overdue",
        "days_past_due",
        "last_payment_date",
        "postal_code",
        "municipality",
        "state",
        # The geocoder reports an unplaced address by its zone alone.
        "location",
    }
)
NAME_COLUMNS = frozenset({"debtor_name"})
PHONE_COLUMNS = frozenset({"phone"})
WITHHELD = "(withheld: personal data)"

# A cell reference such as `C12`, which formula issues report as the value.
_CELL_REFERENCE = re.compile(r"[A-Z]{1,3}[0-9]{1,7}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_PHONE = re.compile(r"\+?[0-9][0-9 ().-]{6,}")
# Shorter values are too common to stand for the cell inside a message.
_MIN_SCRUBBED_CHARS = 3


def reported_value(column: str, value: str | None) -> str | None:
    """Return the cell as the report shows it: in full, masked or withheld."""
    if value is None or _not_personal(column, value):
        return value
    if column in NAME_COLUMNS:
        return mask_name(value)
    if column in PHONE_COLUMNS or _PHONE.fullmatch(value.strip()):
        return mask_phone(value)
    if _EMAIL.fullmatch(value.strip()):
        return mask_email(value)
    return WITHHELD


def reportable(issue: RowIssue) -> RowIssue:
    """Return the issue with its value, and any copy of it in its message, masked."""
    reported = reported_value(issue.column, issue.value)
    if reported == issue.value or issue.value is None:
        return issue
    message = issue.message
    for raw in {issue.value, issue.value.strip()}:
        if len(raw) >= _MIN_SCRUBBED_CHARS:
            message = message.replace(raw, reported or WITHHELD)
    return replace(issue, value=reported, message=message)


def _not_personal(column: str, value: str) -> bool:
    text = value.strip()
    return (
        column in SHOWN_COLUMNS
        or text in EXCEL_ERRORS
        or _CELL_REFERENCE.fullmatch(text) is not None
    )
