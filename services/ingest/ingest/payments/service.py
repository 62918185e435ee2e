"""Payments reported by integrators, each announced once on payments.v1."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.accounts.keys import key_form
from ingest.payments import repository
from ingest.payments.schemas import PaymentIn, PaymentOut
from shared.errors import AppError, ConflictError, UnprocessableError
from shared.events.payloads import Money, PaymentReported
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)


class UnknownAccountError(UnprocessableError):
    code = "unknown-account"
    title = "The payment's account does not exist"


class PaymentReferenceReusedError(ConflictError):
    code = "payment-reference-reused"
    title = "Payment reference reused with different values"


class PaymentCurrencyError(UnprocessableError):
    code = "payment-currency-mismatch"
    title = "The payment is in another currency than its account"


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
        raise _unknown_account(request)
    currency = _currency(request, account)
    if isinstance(currency, AppError):
        raise currency
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
    if not created:
        _check_same_payment(stored, request, currency, account.account_key)
    if created:
        await _emit_reported(
            runtime,
            session,
            tenant_id=tenant_id,
            payment_id=payment_id,
            account=account,
            request=request,
            currency=currency,
            reported_at=now,
        )
    payment = _payment_out(stored, account_key=account.account_key)
    return Reported(payment=payment, created=created)


async def report_payments(
    runtime: ServiceRuntime,
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    requests: list[PaymentIn],
) -> list[Reported | AppError]:
    """Store and emit a batch of payments with one insert, in the caller's transaction.

    Returns one outcome per request, in order: the payment, or the error that
    `report_payment` would raise for it. A reference that appears twice in
    the batch is one payment, as it is across calls.
    """
    accounts = await repository.find_accounts(
        session,
        tenant_id=tenant_id,
        account_keys=[r.account_key for r in requests if r.account_key is not None],
        account_ids=[r.account_id for r in requests if r.account_id is not None],
    )
    by_key = {key_form(account.account_key): account for account in accounts}
    by_id = {account.account_id: account for account in accounts}
    now = datetime.now(UTC)

    resolved: list[tuple[PaymentIn, Any, str] | AppError] = []
    new_rows: dict[tuple[uuid.UUID, str], dict[str, Any]] = {}
    for request in requests:
        account = (
            by_id.get(request.account_id)
            if request.account_id is not None
            else by_key.get(key_form(request.account_key))
        )
        if account is None:
            resolved.append(_unknown_account(request))
            continue
        currency = _currency(request, account)
        if isinstance(currency, AppError):
            resolved.append(currency)
            continue
        resolved.append((request, account, currency))
        new_rows.setdefault(
            (account.account_id, request.reference),
            {
                "payment_id": uuid.uuid4(),
                "tenant_id": tenant_id,
                "account_id": account.account_id,
                "amount": request.amount,
                "currency": currency,
                "paid_on": request.paid_on,
                "reference": request.reference,
                "created_at": now,
            },
        )

    inserted = await repository.insert_payments(session, list(new_rows.values()))
    stored = await repository.get_by_references(
        session, tenant_id=tenant_id, pairs=list(new_rows)
    )
    outcomes: list[Reported | AppError] = []
    events: list[PaymentReported] = []
    for item in resolved:
        if isinstance(item, AppError):
            outcomes.append(item)
            continue
        request, account, currency = item
        payment = stored[(account.account_id, request.reference)]
        created = payment.payment_id in inserted
        # Only the first request of a reference inserts; the rest are repeats.
        inserted.discard(payment.payment_id)
        if created:
            events.append(
                _reported_event(
                    tenant_id=tenant_id,
                    payment_id=payment.payment_id,
                    account=account,
                    request=request,
                    currency=currency,
                    reported_at=now,
                )
            )
        else:
            try:
                _check_same_payment(payment, request, currency, account.account_key)
            except PaymentReferenceReusedError as error:
                outcomes.append(error)
                continue
        outcomes.append(
            Reported(
                payment=_payment_out(payment, account_key=account.account_key),
                created=created,
            )
        )
    # One COPY into the outbox for the batch, instead of an INSERT a payment.
    await runtime.emit_many(session, events)
    log.info("payments.reported", count=len(events))
    return outcomes


def _unknown_account(request: PaymentIn) -> UnknownAccountError:
    name = request.account_key or str(request.account_id)
    return UnknownAccountError(
        f"account {name!r} not found; upload the account first or fix the "
        "account_key or account_id"
    )


def _currency(request: PaymentIn, account: Any) -> str | PaymentCurrencyError:
    """Return the payment's currency, or the error when it is not the account's.

    Balances and promises are kept in the account's currency and compared
    without converting, so a payment in another currency cannot count.
    """
    if request.currency is None or request.currency == account.currency:
        return str(account.currency)
    return PaymentCurrencyError(
        f"the payment is in {request.currency} but account "
        f"{account.account_key!r} is in {account.currency}; report the amount "
        f"in {account.currency}, or leave currency out"
    )


def _check_same_payment(
    stored: Any, request: PaymentIn, currency: str, account_key: str
) -> None:
    if (stored.amount, stored.currency, stored.paid_on) != (
        request.amount,
        currency,
        request.paid_on,
    ):
        raise PaymentReferenceReusedError(
            f"payment reference {request.reference!r} was already reported for "
            f"account {account_key!r} with amount {stored.amount} "
            f"{stored.currency} paid on {stored.paid_on.isoformat()}; a different "
            "payment needs a new reference"
        )


def _reported_event(
    *,
    tenant_id: uuid.UUID,
    payment_id: uuid.UUID,
    account: Any,
    request: PaymentIn,
    currency: str,
    reported_at: datetime,
) -> PaymentReported:
    return PaymentReported(
        tenant_id=tenant_id,
        payment_id=payment_id,
        account_id=account.account_id,
        account_key=account.account_key,
        amount=Money(amount=request.amount, currency=currency),
        paid_on=request.paid_on,
        reference=request.reference,
        reported_at=reported_at,
    )


async def _emit_reported(
    runtime: ServiceRuntime,
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    payment_id: uuid.UUID,
    account: Any,
    request: PaymentIn,
    currency: str,
    reported_at: datetime,
) -> None:
    await runtime.emit(
        session,
        _reported_event(
            tenant_id=tenant_id,
            payment_id=payment_id,
            account=account,
            request=request,
            currency=currency,
            reported_at=reported_at,
        ),
    )
    log.info(
        "payment.reported",
        payment_id=str(payment_id),
        account_id=str(account.account_id),
    )


def _payment_out(stored: Any, *, account_key: str) -> PaymentOut:
    return PaymentOut(
        payment_id=stored.payment_id,
        account_id=stored.account_id,
        account_key=account_key,
        amount=stored.amount,
        currency=stored.currency,
        paid_on=stored.paid_on,
        reference=stored.reference,
        created_at=stored.created_at,
    )
