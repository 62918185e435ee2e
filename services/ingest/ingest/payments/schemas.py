from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, Field, field_validator, model_validator

from shared.schemas import CurrencyCode, RequestModel, required_text

# Earlier dates are typing slips or placeholders such as 0001-01-01.
EARLIEST_PAYMENT = date(2000, 1, 1)


class PaymentIn(RequestModel):
    """A payment the debtor made to the creditor, named by its bank reference."""

    account_key: required_text(100) | None = None
    account_id: UUID | None = None
    amount: Decimal = Field(gt=0, max_digits=14, decimal_places=2)
    currency: CurrencyCode | None = Field(
        default=None,
        description="Defaults to the account's, and must be the account's.",
    )
    paid_on: date
    reference: required_text(100) = Field(
        description="Bank reference; one reference per account is one payment.",
    )

    @model_validator(mode="after")
    def one_account(self) -> "PaymentIn":
        if (self.account_key is None) == (self.account_id is None):
            raise ValueError("give exactly one of account_key or account_id")
        return self

    @field_validator("paid_on")
    @classmethod
    def not_future(cls, value: date) -> date:
        if value > date.today():
            raise ValueError(
                f"paid_on {value.isoformat()} is in the future; report payments "
                "once they are made"
            )
        if value < EARLIEST_PAYMENT:
            raise ValueError(
                f"paid_on {value.isoformat()} is before "
                f"{EARLIEST_PAYMENT.isoformat()}; payments on accounts in "
                "collection are more recent, so check the year"
            )
        return value


class PaymentOut(BaseModel):
    payment_id: UUID
    account_id: UUID
    account_key: str
    amount: Decimal
    currency: str
    paid_on: date
    reference: str
    created_at: datetime


class PaymentRowError(BaseModel):
    row: int = Field(description="Line number in the file, the header being 1.")
    column: str | None
    message: str


class PaymentFileReport(BaseModel):
    rows_total: int
    payments_created: int
    duplicates: int = Field(description="Rows whose reference was already reported.")
    rows_invalid: int
    errors: list[PaymentRowError]
