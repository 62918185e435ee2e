"""When a payment promise counts as broken, and the event for each status.

A promise is broken once its due date and the tenant's grace days have
passed unpaid in the address's local date. Where the address has no known
time zone, every zone of Mexico must have passed that day, so that no
debtor is marked broken while it is still their last day to pay.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.events.payloads import (
    Money,
    Payload,
    PromiseBroken,
    PromiseKept,
    PromisePartlyKept,
    PromiseStatusChanged,
)
from shared.visiting_hours import address_zones
from visits import repository

DEFAULT_GRACE_DAYS = 3
MAX_GRACE_DAYS = 60

EVENT_BY_STATUS: dict[str, type[PromiseStatusChanged]] = {
    "kept": PromiseKept,
    "partly_kept": PromisePartlyKept,
    "broken": PromiseBroken,
}


def last_day_to_pay(due_date: date, grace_days: int) -> date:
    return due_date + timedelta(days=grace_days)


def is_broken(
    due_date: date, grace_days: int, now: datetime, time_zone: str | None
) -> bool:
    """Return whether the last day to pay has ended in every zone of the address."""
    last_day = last_day_to_pay(due_date, grace_days)
    return all(
        now.astimezone(ZoneInfo(zone)).date() > last_day
        for zone in address_zones(time_zone)
    )


def status_event(
    row: Any, *, changed_at: datetime, payment_id: Any = None
) -> PromiseStatusChanged:
    """Build the event for a promise row that has just taken `row.status`."""
    event = EVENT_BY_STATUS[row.status]
    return event(
        tenant_id=row.tenant_id,
        promise_id=row.promise_id,
        visit_id=row.visit_id,
        campaign_id=row.campaign_id,
        account_id=row.account_id,
        amount=Money(amount=row.amount, currency=row.currency),
        amount_paid=Money(amount=row.amount_kept, currency=row.currency),
        due_date=row.due_date,
        status=row.status,
        payment_id=payment_id,
        broken_at=row.broken_at,
        changed_at=changed_at,
    )


async def break_overdue_promises(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    emit: Callable[[AsyncSession, Payload], Awaitable[Any]],
    now: datetime,
    batch_size: int = 500,
) -> int:
    """Mark broken every open promise whose last day to pay is over; return how many.

    Each batch is one transaction: the status and its event commit together.
    """
    total = 0
    while True:
        async with sessionmaker() as session, session.begin():
            candidates = await repository.overdue_candidates(
                session,
                today_utc=now.astimezone(UTC).date(),
                default_grace_days=DEFAULT_GRACE_DAYS,
                limit=batch_size,
            )
            overdue = [
                row.promise_id
                for row in candidates
                if is_broken(row.due_date, row.grace, now, row.time_zone)
            ]
            broken = (
                await repository.mark_broken(session, overdue, at=now)
                if overdue
                else []
            )
            if broken:
                rows = await repository.promises_for_events(session, broken)
                for row in rows:
                    await emit(session, status_event(row, changed_at=now))
        total += len(broken)
        if len(candidates) < batch_size or not broken:
            return total


def check_in_day(checked_in_at: datetime, time_zone: str | None) -> date:
    """Return the local date of the check-in, the earliest one without a zone.

    A payment made on that day counts for the promise, so without a known
    zone the earliest date of any Mexican zone keeps every such payment.
    """
    return min(
        checked_in_at.astimezone(ZoneInfo(zone)).date()
        for zone in address_zones(time_zone)
    )


def earlier_payments_claim(
    visit: Any, *, promise_id: Any, currency: str, now: datetime
) -> dict[str, Any]:
    """Bind the claim of a new promise on the payments reported before it.

    Only payments made on or after the visit's check-in day count: an older
    one paid something else. The result's INSERT runs the claim.
    """
    return repository.claim_parameters(
        promise_id=promise_id,
        tenant_id=visit.tenant_id,
        account_id=visit.account_id,
        currency=currency,
        since=check_in_day(visit.checked_in_at or now, visit.time_zone),
    )


async def apply_claimed_payments(
    session: AsyncSession,
    *,
    emit: Callable[[AsyncSession, Payload], Awaitable[Any]],
    promise_id: Any,
    payments: list[Any],
    now: datetime,
) -> int:
    """Credit a new promise with the payments it claimed; return how many.

    Each applied payment announces the promise's status, as a payment
    reported after the promise does.
    """
    for payment in payments:
        await repository.credit_promise(
            session, promise_id, amount=payment.amount, at=now
        )
        [row] = await repository.promises_for_events(session, [promise_id])
        await emit(
            session, status_event(row, changed_at=now, payment_id=payment.payment_id)
        )
    return len(payments)
