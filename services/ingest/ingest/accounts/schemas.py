from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from shared.events.payloads import (
    Address,
    GeoPoint,
    LocationPrecision,
    LocationSource,
)


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
    location_status: str = Field(
        description="`placed`, or `unplaced` when no location could be found."
    )
    time_zone: str | None = Field(description="IANA time zone of the address.")
    extra: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class AccountPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[AccountOut]
