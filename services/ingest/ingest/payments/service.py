"""Payments reported by integrators, each announced once on payments.v1."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.payments import repository
from ingest.payments.schemas import PaymentIn, PaymentOut
from shared.errors import ConflictError, UnprocessableError
from shared.events.payloads import Money, PaymentReported
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)


class UnknownAccountError(UnprocessableError):
    code = "unknown-account"
    title = "The payment's account does not exist"


class PaymentReferenceReusedError(ConflictError):
    code = "payment-reference-reused"
    title = "Payment reference reused with different values"


@dataclass(frozen=True)
class Reported:
    payment: PaymentOut
    created: bool


async def report_payment(
    runtime: ServiceRuntime,
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    request: PaymentIn,
) -> Reported:
    """Store a payment and emit it, in the caller's transaction.

    A reference already reported for the account with the same amount,
    currency and date is the same payment: it is returned, not stored again.
    With other values it raises PaymentReferenceReusedError.
    """
    account = await repository.find_account(
        session,
        tenant_id=tenant_id,
        account_key=request.account_key,
        account_id=request.account_id,
    )
    if account is None:
        name = request.account_key or str(request.account_id)
        raise UnknownAccountError(
            f"account {name!r} not found; upload the account first or fix the "
            "account_key or account_id"
        )
    currency = request.currency or account.currency
    now = datetime.now(UTC)
    payment_id = uuid.uuid4()
    created = await repository.insert_payment(
        session,
        payment_id=payment_id,
        tenant_id=tenant_id,
        account_id=account.account_id,
        amount=request.amount,
        currency=currency,
        paid_on=request.paid_on,
        reference=request.reference,
        created_at=now,
    )
    stored = await repository.get_by_reference(
        session,
        tenant_id=tenant_id,
        account_id=account.account_id,
        reference=request.reference,
    )
    assert stored is not None
    if not created and (stored.amount, stored.currency, stored.paid_on) != (
        request.amount,
        currency,
        request.paid_on,
    ):
        raise PaymentReferenceReusedError(
            f"payment reference {request.reference!r} was already reported for "
            f"account {account.account_key!r} with amount {stored.amount} "
            f"{stored.currency} paid on {stored.paid_on.isoformat()}; a different "
            "payment needs a new reference"
        )
    if created:
        await runtime.emit(
            session,
            PaymentReported(
                tenant_id=tenant_id,
                payment_id=payment_id,
                account_id=account.account_id,
                account_key=account.account_key,
                amount=Money(amount=request.amount, currency=currency),
                paid_on=request.paid_on,
                reference=request.reference,
                reported_at=now,
            ),
        )
        log.info(
            "payment.reported",
            payment_id=str(payment_id),
            account_id=str(account.account_id),
        )
    payment = PaymentOut(
        payment_id=stored.payment_id,
        account_id=account.account_id,
        account_key=account.account_key,
        amount=stored.amount,
        currency=stored.currency,
        paid_on=stored.paid_on,
        reference=stored.reference,
        created_at=stored.created_at,
    )
    return Reported(payment=payment, created=created)
