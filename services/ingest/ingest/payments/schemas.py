from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ingest.uploads.dates import parse_date
from ingest.uploads.normalize import ValueProblem, parse_money
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

    @model_validator(mode="before")
    @classmethod
    def read_as_files_write(cls, data: Any) -> Any:
        """Read text amounts and dates as portfolio files write them.

        `1.234,56`, `$1,234.56` and `31/12/2024` are accepted as in an upload,
        and a value that fails gets the upload's message.
        """
        if not isinstance(data, dict):
            return data
        data = dict(data)
        amount, paid_on = data.get("amount"), data.get("paid_on")
        if isinstance(amount, str) and amount.strip():
            data["amount"] = payment_amount(amount, data.get("currency"))
        if isinstance(paid_on, str) and paid_on.strip() and not _is_iso(paid_on):
            try:
                data["paid_on"] = parse_date(paid_on, today=date.today())
            except ValueProblem as problem:
                raise PydanticCustomError(
                    "paid_on",
                    "paid_on {value}: {problem}",
                    _described(paid_on, problem),
                ) from None
        return data

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


def payment_amount(text: str, currency: object) -> Decimal:
    """Parse a payment amount written as text; raise for a negative or bad one."""
    if text.strip().startswith("-"):
        raise PydanticCustomError(
            "amount",
            "amount {value} is negative; a payment amount is more than 0",
            {"value": text.strip()[:40]},
        )
    try:
        return parse_money(
            text, currency=currency if isinstance(currency, str) else "MXN"
        )
    except ValueProblem as problem:
        raise PydanticCustomError(
            "amount", "amount {value}: {problem}", _described(text, problem)
        ) from None


def _is_iso(text: str) -> bool:
    try:
        date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def _described(value: str, problem: ValueProblem) -> dict[str, str]:
    return {"value": value.strip()[:40], "problem": str(problem)}


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
    value: str | None = Field(
        default=None, description="The cell as the file has it, when one is at fault."
    )
    message: str


class PaymentFileReport(BaseModel):
    rows_total: int
    payments_created: int
    duplicates: int = Field(description="Rows whose reference was already reported.")
    rows_invalid: int
    errors: list[PaymentRowError]
