"""Request and response of the integrators' bulk account endpoint."""

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ingest.uploads.schemas import OnError
from shared.schemas import RequestModel

MAX_BULK_ACCOUNTS = 10_000

# A value as a spreadsheet cell would carry it. The same rules as for a file
# decide whether it is valid, so a wrong value is an item error, not a 422.
# `bool` is in the union so JSON `true` stays a boolean, which amounts and days
# reject, rather than becoming the number 1.
Cell = bool | str | int | float | None
ExtraName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
MAX_EXTRA_FIELDS = 50


class BulkAccount(BaseModel):
    """One account, with the fields of the file layout."""

    model_config = ConfigDict(extra="forbid")

    account_key: Cell = Field(description="The tenant's own account id.")
    debtor_name: Cell = None
    credit_number: Cell = None
    balance_overdue: Cell = Field(
        default=None, description='Amount, e.g. 12500.50 or "12,500.50".'
    )
    days_past_due: Cell = None
    street: Cell = None
    exterior_number: Cell = None
    interior_number: Cell = None
    colonia: Cell = None
    postal_code: Cell = None
    municipality: Cell = None
    state: Cell = None
    cross_streets: Cell = None
    address_references: Cell = None
    phone: Cell = None
    latitude: Cell = None
    longitude: Cell = None
    last_payment_date: Cell = Field(default=None, description="yyyy-mm-dd.")
    birth_date: Cell = Field(default=None, description="yyyy-mm-dd.")
    extra: dict[ExtraName, Cell] = Field(
        default_factory=dict,
        max_length=MAX_EXTRA_FIELDS,
        description="Other attributes, kept as extras.",
    )


class BulkRequest(RequestModel):
    accounts: list[BulkAccount] = Field(
        min_length=1,
        description=f"From 1 to {MAX_BULK_ACCOUNTS} accounts per call.",
    )
    on_error: OnError | None = Field(
        default=None,
        description=(
            "`store_valid` stores the valid accounts; `reject_all` stores none "
            "when one has an error. Default: the tenant's upload settings."
        ),
    )


class BulkItemError(BaseModel):
    index: int = Field(description="Position of the account in `accounts`, from 0.")
    field: str | None
    value: str | None
    message: str
    severity: str = Field(description="`error` rejects the item; `warning` keeps it.")


class BulkResult(BaseModel):
    upload_id: UUID = Field(description="The upload that records this call.")
    status: str = Field(description="`completed`, or `rejected` under `reject_all`.")
    accounts_received: int
    accounts_valid: int
    accounts_invalid: int
    accounts_created: int
    accounts_updated: int
    errors: list[BulkItemError]
