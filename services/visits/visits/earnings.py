"""The agent earnings ledger: when a visit's fee is earned, reversed or pending.

A fee is pending from the visit's completion until its review window
closes. The ledger holds only movements of money:

- `earned` (the fee) when the window closes with no rejection, written by
  a periodic pass, or when an appeal is overturned, at the resolution;
- `reversed` (minus the fee) when a rejection comes after the fee was
  earned. That takes a pass that earned it between the rejecting request
  reading its clock and updating the visit, a pass whose clock runs ahead,
  or a review window lengthened meanwhile.

Pending is read from the visits, not written: it is every completed visit
with no earned movement. Rows are never changed, and the unique key
(visit, kind, reason) makes each movement happen once.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.errors import NotFoundError
from shared.events.payloads import (
    AgentFeeEarned,
    AgentFeeMoved,
    AgentFeeReversed,
    Money,
    Payload,
)
from visits import earnings_repository as ledger
from visits import rules
from visits.earnings_schemas import (
    CurrencyTotals,
    EarningsOut,
    MovementKind,
    MovementOut,
    MovementReason,
    PeriodOut,
)
from visits.models import AgentEarning

log = structlog.get_logger(__name__)

Emit = Callable[[AsyncSession, Payload], Awaitable[Any]]

MAX_PERIOD_DAYS = 366
CENTS = Decimal("0.01")
EVENT_BY_KIND: dict[str, type[AgentFeeMoved]] = {
    MovementKind.EARNED: AgentFeeEarned,
    MovementKind.REVERSED: AgentFeeReversed,
}


# --- period ------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A half-open span of time: `start` included, `end` excluded."""

    start: datetime
    end: datetime


def _parse_bound(
    raw: str, location: str, *, is_end: bool
) -> tuple[datetime | None, rules.FieldError | None]:
    """Read a date (a whole UTC day) or a timestamp that carries its offset."""
    try:
        moment = _read_moment(raw, is_end=is_end)
    except OverflowError:
        message = f"{raw!r} is out of the calendar's range; send a nearer date"
        return None, rules.field_error(location, message, raw)
    except ValueError as error:
        return None, rules.field_error(location, f"{raw!r} {error}", raw)
    return moment, None


def _read_moment(raw: str, *, is_end: bool) -> datetime:
    """Return the bound in UTC, or raise a ValueError that names the fix."""
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        pass
    else:
        start_of_day = datetime.combine(day, time(), tzinfo=UTC)
        return start_of_day + timedelta(days=1) if is_end else start_of_day
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            "is neither a date nor a timestamp; send 2026-12-01 or "
            "2026-12-01T00:00:00-06:00"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(
            "has no time zone; add its offset (Z, -06:00) or send a date, "
            "which is read as a UTC day"
        )
    return moment.astimezone(UTC)


def parse_period(raw_from: str, raw_to: str) -> Period:
    """Read the `from` and `to` query values, or raise one 422 naming each fault.

    A date in `to` includes that whole day. The period may be at most
    MAX_PERIOD_DAYS long and may not end before it starts.
    """
    start, start_error = _parse_bound(raw_from, "query.from", is_end=False)
    end, end_error = _parse_bound(raw_to, "query.to", is_end=True)
    rules.raise_if_any([error for error in (start_error, end_error) if error])
    assert start is not None and end is not None
    rules.raise_if_any(_span_errors(raw_from, raw_to, start, end))
    return Period(start=start, end=end)


def _span_errors(
    raw_from: str, raw_to: str, start: datetime, end: datetime
) -> list[rules.FieldError]:
    if start > end:
        message = (
            f"from {raw_from} is after to {raw_to}; swap them or move from "
            "back to the start of the period"
        )
        return [rules.field_error("query.from", message, raw_from)]
    if end - start > timedelta(days=MAX_PERIOD_DAYS):
        days = (end - start) / timedelta(days=1)
        message = (
            f"from {raw_from} to {raw_to} spans {days:g} days; a period may span "
            f"at most {MAX_PERIOD_DAYS}, so ask for one year at a time"
        )
        return [rules.field_error("query.to", message, raw_to)]
    return []


# --- movements ---------------------------------------------------------------


def _movement(
    visit: Any, *, kind: MovementKind, reason: MovementReason, at: datetime
) -> dict[str, Any]:
    """Build one ledger row from a visit row with its fee and agent."""
    sign = 1 if kind == MovementKind.EARNED else -1
    return {
        "movement_id": uuid4(),
        "visit_id": visit.visit_id,
        "agent_id": visit.agent_id,
        "tenant_id": visit.tenant_id,
        "attempt": visit.attempt,
        "amount": sign * visit.fee_amount,
        "currency": visit.fee_currency,
        "kind": kind.value,
        "reason": reason.value,
        "occurred_at": at,
    }


def movement_event(row: AgentEarning) -> AgentFeeMoved:
    event = EVENT_BY_KIND[row.kind]
    return event(
        tenant_id=row.tenant_id,
        movement_id=row.movement_id,
        visit_id=row.visit_id,
        agent_id=row.agent_id,
        attempt=row.attempt,
        amount=Money(amount=row.amount, currency=row.currency),
        reason=row.reason,
        occurred_at=row.occurred_at,
    )


async def _write(session: AsyncSession, emit: Emit, rows: list[dict[str, Any]]) -> int:
    """Insert the movements not yet written and emit one event for each new one."""
    written = await ledger.insert_movements(session, rows)
    for row in written:
        await emit(session, movement_event(row))
    return len(written)


async def earn_closed_windows(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    emit: Emit,
    now: datetime,
    review_window: timedelta,
    batch_size: int = 500,
) -> int:
    """Earn the fee of every completed, unreviewed visit whose window closed.

    The fee is earned at `completed_at + review_window`, the moment a
    rejection starts to get a 409, whenever the pass notices it, so a pass
    that runs late dates the movement the same. Each batch is one
    transaction with its events. Return how many fees were earned.
    """
    total = 0
    while True:
        async with sessionmaker() as session, session.begin():
            visits = await ledger.lock_earnable(
                session, completed_before=now - review_window, limit=batch_size
            )
            rows = [
                _movement(
                    visit,
                    kind=MovementKind.EARNED,
                    reason=MovementReason.REVIEW_WINDOW_CLOSED,
                    at=visit.completed_at + review_window,
                )
                for visit in visits
            ]
            written = await _write(session, emit, rows)
        total += written
        if len(visits) < batch_size or not written:
            return total


async def reverse_if_earned(
    session: AsyncSession, emit: Emit, *, visit_id: UUID, at: datetime
) -> bool:
    """Reverse a rejected visit's fee if it was earned, inside the rejection.

    The caller's conditional update has locked the visit's row, so an earning
    pass that locked it first has committed, and its earned row is visible.
    """
    if not await ledger.fee_is_earned(session, visit_id):
        return False
    visit = await ledger.lock_visit_fee(session, visit_id)
    row = _movement(
        visit, kind=MovementKind.REVERSED, reason=MovementReason.REJECTED, at=at
    )
    log.info("earnings.fee_reversed", visit_id=str(visit_id))
    return await _write(session, emit, [row]) == 1


async def earn_on_overturn(
    session: AsyncSession, emit: Emit, *, visit_id: UUID, at: datetime
) -> bool:
    """Earn the fee of a visit whose rejection was overturned, unless already earned."""
    if await ledger.fee_is_earned(session, visit_id):
        return False
    visit = await ledger.lock_visit_fee(session, visit_id)
    row = _movement(
        visit,
        kind=MovementKind.EARNED,
        reason=MovementReason.APPEAL_OVERTURNED,
        at=at,
    )
    log.info("earnings.fee_earned_on_appeal", visit_id=str(visit_id))
    return await _write(session, emit, [row]) == 1


# --- reads -------------------------------------------------------------------


def _totals(row: Any) -> CurrencyTotals:
    def cents(value: Any) -> Decimal:
        return Decimal(value).quantize(CENTS)

    return CurrencyTotals(
        currency=row.currency,
        pending=cents(row.pending),
        earned=cents(row.earned),
        reversed=cents(row.reversed),
        net=cents(row.earned) + cents(row.reversed),
        visit_count=row.visit_count,
    )


async def agent_earnings(
    session: AsyncSession,
    *,
    agent_id: UUID,
    period: Period,
    limit: int,
    offset: int,
    tenant_id: UUID | None = None,
) -> EarningsOut:
    """Summarise an agent's fees in a period, only one tenant's when given."""
    async with session.begin():
        if tenant_id is not None and not await ledger.tenant_had_agent(
            session, tenant_id=tenant_id, agent_id=agent_id
        ):
            raise NotFoundError(
                f"agent {agent_id} not found among this tenant's visits",
                agent_id=str(agent_id),
            )
        scope = {
            "agent_id": agent_id,
            "tenant_id": tenant_id,
            "start": period.start,
            "end": period.end,
        }
        totals = await ledger.totals_by_currency(session, **scope)
        movements, total = await ledger.movements_page(
            session, **scope, limit=limit, offset=offset
        )
    return EarningsOut(
        agent_id=agent_id,
        period=PeriodOut(start=period.start, end=period.end),
        totals=[_totals(row) for row in totals],
        movements=[
            MovementOut.model_validate(row, from_attributes=True) for row in movements
        ],
        total=total,
        limit=limit,
        offset=offset,
    )
