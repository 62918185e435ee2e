"""Share the values that repeat across a file's accounts.

A portfolio repeats states, municipalities, colonias, days past due and the
same sets of kept fields on row after row. Each parsed row gets its own copy of those
strings and sets, so a million-row file would contain millions of equal objects.
"""

from typing import Any

from ingest.uploads.rows import ParsedRow

# Address fields whose values repeat from row to row.
SHARED_TEXT_FIELDS = (
    "street",
    "exterior_number",
    "interior_number",
    "colonia",
    "postal_code",
    "municipality",
    "state",
)
# Distinct values remembered per file. Past this many, new values are kept
# as they are, so a column of unique values costs no more than before.
MAX_SHARED_VALUES = 100_000
# The `extra` of every parsed account without extra values. It is shared to
# save a dict per row, so it must never be changed in place.
NO_EXTRA: dict[str, Any] = {}


class AccountCompactor:
    """Replace a file's repeated account values with one shared object each."""

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}
        self._days: dict[int, int] = {}
        self._kept: dict[frozenset[str], frozenset[str]] = {}

    def compact(self, row: ParsedRow) -> None:
        account = row.account
        if account is None:
            return
        for name in SHARED_TEXT_FIELDS:
            value = getattr(account, name)
            if value is not None:
                setattr(account, name, self._shared_text(value))
        days = account.days_past_due
        if days is not None:
            # At most MAX_DAYS_PAST_DUE + 1 distinct values, so all are shared.
            account.days_past_due = self._days.setdefault(days, days)
        kept = frozenset(account.kept_fields)
        account.kept_fields = self._kept.setdefault(kept, kept)
        if not account.extra:
            account.extra = NO_EXTRA

    def _shared_text(self, value: str) -> str:
        shared = self._texts.get(value)
        if shared is not None:
            return shared
        if len(self._texts) < MAX_SHARED_VALUES:
            self._texts[value] = value
        return value
