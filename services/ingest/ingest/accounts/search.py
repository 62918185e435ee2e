"""Search the tenant's accounts with the campaign selection's filters and more.

The filters a campaign selection shares (days past due, balance, state,
municipality, postal code, tags) are built by the campaigns' own code, so
a search and a campaign built from the same values match the same accounts.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, or_

from ingest.campaigns.repository import selection_filters
from ingest.campaigns.schemas import Selection
from ingest.models import Account
from shared.errors import UnprocessableError


class LocationStatus(StrEnum):
    PLACED = "placed"
    UNPLACED = "unplaced"


@dataclass
class AccountSearch:
    """Filters of `GET /accounts`, combined with AND; None leaves one out."""

    q: str | None = None
    states: list[str] | None = None
    municipalities: list[str] | None = None
    postal_codes: list[str] | None = None
    tags: list[str] | None = None
    min_days_past_due: int | None = None
    max_days_past_due: int | None = None
    min_balance: Decimal | None = None
    max_balance: Decimal | None = None
    location_status: LocationStatus | None = None
    do_not_visit: bool | None = None
    # False for a caller who sees names masked: a name search would let it
    # confirm a guessed full name one letter at a time.
    names_searchable: bool = True


def search_conditions(search: AccountSearch) -> list[ColumnElement[bool]]:
    """Return the WHERE conditions of a search, or raise UnprocessableError."""
    if search.q is not None and "\x00" in search.q:
        raise UnprocessableError("q contains a NUL character (\\x00); remove it")
    conditions = selection_filters(_as_selection(search), datetime.now(UTC))
    if search.q is not None and search.q.strip():
        pattern = f"%{_escape_like(search.q.strip())}%"
        matched = [
            Account.account_key.ilike(pattern, escape="\\"),
            Account.credit_number.ilike(pattern, escape="\\"),
        ]
        if search.names_searchable:
            matched.append(Account.debtor_name.ilike(pattern, escape="\\"))
        conditions.append(or_(*matched))
    if search.location_status is not None:
        conditions.append(Account.location_status == search.location_status.value)
    if search.do_not_visit is True:
        conditions.append(Account.do_not_visit_reason.is_not(None))
    elif search.do_not_visit is False:
        conditions.append(Account.do_not_visit_reason.is_(None))
    return conditions


def _as_selection(search: AccountSearch) -> Selection:
    values: dict[str, Any] = {
        "min_days_past_due": search.min_days_past_due,
        "max_days_past_due": search.max_days_past_due,
        "min_balance": search.min_balance,
        "max_balance": search.max_balance,
        "states": search.states,
        "municipalities": search.municipalities,
        "postal_codes": search.postal_codes,
        "tags": search.tags,
    }
    try:
        return Selection(all_accounts=True, **values)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'filters'}: {item['msg']}"
            for item in error.errors()
        )
        raise UnprocessableError(f"invalid account search: {problems}") from None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
