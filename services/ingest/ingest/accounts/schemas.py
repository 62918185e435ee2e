from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from shared.events.payloads import (
    Address,
    GeoPoint,
    LocationPrecision,
    LocationSource,
)
from shared.masking import (
    ADDRESS_LINE_KEYS,
    COARSE_COORDINATE_DECIMALS,
    MASK,
    mask_address_lines,
    mask_name,
    mask_phone,
    mask_text,
)
from shared.schemas import RequestModel, free_text

Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=50, pattern=r"^[^\x00]+$")
]


class FlagReason(StrEnum):
    DISPUTE = "dispute"
    LAWYER = "lawyer"
    VULNERABLE_PERSON = "vulnerable_person"
    PAID = "paid"
    OTHER = "other"


class Flag(RequestModel):
    reason: FlagReason
    note: free_text(500) | None = None


class AccountPatch(RequestModel):
    """Fields to change; a flag set to null clears it, an omitted field stays."""

    tags: list[Tag] | None = Field(
        default=None, max_length=50, description="Replaces the account's tags."
    )
    do_not_visit: Flag | None = Field(
        default=None, description="Keeps the account out of field visits."
    )
    do_not_contact: Flag | None = Field(
        default=None, description="Keeps the account out of any contact."
    )


class RecallRequest(RequestModel):
    note: free_text(500) | None = None


class AccountOut(BaseModel):
    account_id: UUID
    account_key: str
    credit_number: str | None = None
    debtor_name: str
    balance_overdue: Decimal | None
    currency: str
    days_past_due: int | None
    address: Address
    phone: str | None
    last_payment_date: date | None = None
    birth_date: date | None = None
    location: GeoPoint | None
    location_precision: LocationPrecision | None
    location_source: LocationSource | None
    location_accuracy_m: float | None = Field(
        default=None, description="The check-in's accuracy when the source is `visit`."
    )
    location_visit_id: UUID | None = Field(
        default=None, description="The visit whose check-in placed the account."
    )
    location_status: str = Field(
        description="`placed`, or `unplaced` when no location could be found."
    )
    time_zone: str | None = Field(description="IANA time zone of the address.")
    extra: dict[str, Any]
    tags: list[str]
    do_not_visit_reason: FlagReason | None
    do_not_contact_reason: FlagReason | None
    do_not_visit_note: str | None = None
    do_not_contact_note: str | None = None
    recall_note: str | None = None
    recalled_at: datetime | None
    last_visit_outcome: str | None
    last_visited_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def masked(self) -> "AccountOut":
        """Return the account with the debtor's name, phone, street and notes masked.

        The postal code, municipality and state stay, and the location is
        rounded to about a kilometre, so figures by zone still add up.
        """
        address = Address(**mask_address_lines(self.address.model_dump()))
        return self.model_copy(
            update={
                "debtor_name": mask_name(self.debtor_name),
                "phone": mask_phone(self.phone),
                "address": address,
                "location": _coarse(self.location),
                # A birth date identifies a person. Columns the tenant added
                # (an email, a CURP, a work address) may contain anything, so
                # only their names show.
                "birth_date": None,
                "extra": {name: MASK for name in self.extra},
                **{name: mask_text(getattr(self, name)) for name in _NOTE_FIELDS},
            }
        )


_NOTE_FIELDS = ("do_not_visit_note", "do_not_contact_note", "recall_note")


def _coarse(point: GeoPoint | None) -> GeoPoint | None:
    if point is None:
        return None
    return GeoPoint(
        lat=round(point.lat, COARSE_COORDINATE_DECIMALS),
        lon=round(point.lon, COARSE_COORDINATE_DECIMALS),
    )


class AccountPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[AccountOut]

    def masked(self) -> "AccountPage":
        return self.model_copy(update={"items": [a.masked() for a in self.items]})


class FieldChange(BaseModel):
    old: Any = Field(description="The value before the upload, as JSON.")
    new: Any = Field(description="The value the upload set, as JSON.")


# The personal fields of an account's history and how each is masked.
_MASKED_CHANGES = {
    "debtor_name": mask_name,
    "phone": mask_phone,
    # A location reads as WKT here: hidden whole, as an address line is.
    "location": mask_text,
    **{name: mask_text for name in (*ADDRESS_LINE_KEYS, *_NOTE_FIELDS)},
}


# Hidden whole in the history: the birth date and the added columns.
_WITHHELD_CHANGES = frozenset({"birth_date", "extra"})


class AccountChangeOut(BaseModel):
    """The fields one upload changed on an account."""

    upload_id: UUID | None
    changed_at: datetime
    changes: dict[str, FieldChange] = Field(
        description="Field name -> old and new value; a location reads as WKT."
    )

    def masked(self) -> "AccountChangeOut":
        changes = {
            name: _masked_change(name, change) for name, change in self.changes.items()
        }
        return self.model_copy(update={"changes": changes})


def _masked_change(name: str, change: FieldChange) -> FieldChange:
    if name in _WITHHELD_CHANGES:
        return FieldChange(
            old=None if change.old is None else MASK,
            new=None if change.new is None else MASK,
        )
    mask = _MASKED_CHANGES.get(name)
    if mask is None:
        return change
    return FieldChange(
        old=mask(change.old) if isinstance(change.old, str) else change.old,
        new=mask(change.new) if isinstance(change.new, str) else change.new,
    )


class AccountHistoryOut(BaseModel):
    account_id: UUID
    account_key: str
    items: list[AccountChangeOut]

    def masked(self) -> "AccountHistoryOut":
        return self.model_copy(update={"items": [i.masked() for i in self.items]})
