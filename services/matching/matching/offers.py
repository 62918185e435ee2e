"""An agent's answers to offers: accept or decline, and the expiry of the rest.

Each answer locks the visit request first, then reads the offer again, so
two agents accepting one broadcast take turns: the second finds its offer
withdrawn and the request assigned, and gets a 409. The partial unique index
on active assignments backs this up if a writer ever skips the lock.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from matching import repository
from matching.candidates import local_day
from matching.dispatch import (
    DispatchOutcome,
    Emit,
    create_assignment,
    dispatch,
    transition,
)
from matching.models import AgentStatus, OfferState, RequestState
from matching.schemas import AgentAssignment, DeclineIn, OfferAnswer
from matching.settings import MatchingSettings
from shared.errors import ConflictError, NotFoundError
from shared.events.payloads import Money, OfferDeclined, OfferExpired
from shared.tenancy import leave_agent_scope

log = structlog.get_logger(__name__)


class OfferClosedError(ConflictError):
    code = "offer-closed"
    title = "The offer is no longer open"


class NoCapacityError(ConflictError):
    code = "no-capacity"
    title = "The agent has no free capacity today"


class AgentNotEligibleError(ConflictError):
    code = "agent-not-eligible"
    title = "The agent may not take visits now"


async def accept_offer(
    session: AsyncSession,
    *,
    agent_id: uuid.UUID,
    offer_id: uuid.UUID,
    emit: Emit,
    settings: MatchingSettings | None = None,
) -> tuple[AgentAssignment, bool]:
    """Accept an open offer; return the assignment and whether it is new.

    Accepting an offer already accepted returns the same assignment.
    """
    async with session.begin():
        offer, request = await _lock_offer(session, agent_id, offer_id)
        # Read after the lock: an answer that waited on another writer of the
        # visit is judged at the time it is applied, not when it arrived.
        now = datetime.now(UTC)
        if offer.state == OfferState.ACCEPTED:
            return await _assignment(session, offer_id), False
        _require_open(offer, request, now)
        agent = await _eligible_agent(session, agent_id)
        zone = (settings or MatchingSettings()).default_agent_time_zone
        day = local_day(now, agent.time_zone, zone)
        reserved = await repository.reserve_capacity(
            session, agent_id, day, capacity=agent.daily_capacity
        )
        if not reserved:
            raise NoCapacityError(
                f"agent {agent_id} has no free capacity left today, so offer "
                f"{offer_id} cannot be accepted; it stays open until "
                f"{offer.expires_at.isoformat()} or until a visit is released",
                offer_id=str(offer_id),
            )
        await repository.close_offer(
            session, offer_id, target=OfferState.ACCEPTED, at=now
        )
        # The other agents' open offers of the visit are withdrawn next.
        await leave_agent_scope(session)
        withdrawn = await repository.withdraw_open_offers(
            session, offer.visit_id, at=now
        )
        await transition(
            session,
            offer.visit_id,
            RequestState.ASSIGNED,
            now,
            source=RequestState.OFFERED,
        )
        await create_assignment(
            session,
            request,
            offer_id=offer_id,
            agent_id=agent_id,
            distance_m=offer.distance_m,
            emit=emit,
            now=now,
            load_day=day,
            check_in_within=None
            if settings is None
            else timedelta(hours=settings.check_in_within_hours),
        )
        log.info(
            "offer.accepted",
            offer_id=str(offer_id),
            visit_id=str(offer.visit_id),
            others_withdrawn=withdrawn,
        )
        return await _assignment(session, offer_id), True


async def decline_offer(
    session: AsyncSession,
    *,
    agent_id: uuid.UUID,
    offer_id: uuid.UUID,
    answer: DeclineIn,
    emit: Emit,
    settings: MatchingSettings,
) -> OfferAnswer:
    """Decline an open offer and pass the visit on when no offer is left open.

    Declining an offer already declined changes nothing.
    """
    async with session.begin():
        offer, request = await _lock_offer(session, agent_id, offer_id)
        now = datetime.now(UTC)
        if offer.state == OfferState.DECLINED:
            return _answer(offer.offer_id, offer.visit_id, offer.state)
        _require_open(offer, request, now)
        await repository.close_offer(
            session,
            offer_id,
            target=OfferState.DECLINED,
            at=now,
            decline_reason=answer.reason,
            decline_note=answer.note,
        )
        await emit(
            session,
            OfferDeclined(
                tenant_id=offer.tenant_id,
                offer_id=offer_id,
                visit_id=offer.visit_id,
                agent_id=agent_id,
                reason=answer.reason,
                declined_at=now,
            ),
        )
        # Passing the visit on reads and makes other agents' offers.
        await leave_agent_scope(session)
        outcome = await pass_on(session, offer.visit_id, emit, settings, now)
        log.info(
            "offer.declined",
            offer_id=str(offer_id),
            visit_id=str(offer.visit_id),
            reason=answer.reason.value,
            next_step=outcome,
        )
        return _answer(offer.offer_id, offer.visit_id, OfferState.DECLINED)


async def expire_offers(
    session: AsyncSession,
    visit_id: uuid.UUID,
    *,
    emit: Emit,
    settings: MatchingSettings,
) -> DispatchOutcome:
    """Expire the visit's overdue offers, then offer it again or end its wait.

    Runs in the caller's transaction. A request that another transaction has
    locked is skipped, and the next pass finds it again.
    """
    request = await repository.lock_request(session, visit_id, skip_locked=True)
    if request is None:
        return DispatchOutcome.SKIPPED
    now = datetime.now(UTC)
    expired = await repository.expire_overdue_offers(session, visit_id, now=now)
    for offer in expired:
        await emit(
            session,
            OfferExpired(
                tenant_id=offer.tenant_id,
                offer_id=offer.offer_id,
                visit_id=visit_id,
                agent_id=offer.agent_id,
                expired_at=now,
            ),
        )
    if expired:
        log.info("offer.expired", visit_id=str(visit_id), offers=len(expired))
    # The clock is read again, so the next offer gets its whole timeout
    # however long writing the expiries took.
    return await pass_on(session, visit_id, emit, settings, datetime.now(UTC))


async def pass_on(
    session: AsyncSession,
    visit_id: uuid.UUID,
    emit: Emit,
    settings: MatchingSettings,
    now: datetime,
) -> DispatchOutcome:
    """Dispatch the locked request again once none of its offers is open."""
    if await repository.open_offer_count(session, visit_id):
        return DispatchOutcome.OFFERED
    # The request is still `offered` after its last offer closed. Moving it
    # back to pending lets dispatch pick the next candidate in this
    # transaction, which has the request's lock already.
    await repository.transition_request(
        session,
        visit_id,
        source=RequestState.OFFERED,
        target=RequestState.PENDING,
        at=now,
    )
    return await dispatch(session, visit_id, emit=emit, settings=settings, now=now)


async def _lock_offer(
    session: AsyncSession, agent_id: uuid.UUID, offer_id: uuid.UUID
) -> tuple[Row[Any], Row[Any]]:
    """Lock the offer's request, then read the offer again under that lock."""
    offer = await repository.get_agent_offer(
        session, offer_id=offer_id, agent_id=agent_id
    )
    if offer is None:
        raise NotFoundError(f"offer {offer_id} not found among this agent's offers")
    request = await repository.lock_request(session, offer.visit_id)
    offer = await repository.get_agent_offer(
        session, offer_id=offer_id, agent_id=agent_id
    )
    assert offer is not None and request is not None
    return offer, request


def _require_open(offer: Row[Any], request: Row[Any], now: datetime) -> None:
    """Raise OfferClosedError unless the offer is open and not past `expires_at`."""
    if offer.state == OfferState.OFFERED and offer.expires_at > now:
        return
    state = offer.state
    if state == OfferState.OFFERED:
        state = OfferState.EXPIRED
    cause = {
        OfferState.EXPIRED: f"it expired at {offer.expires_at.isoformat()}",
        OfferState.WITHDRAWN: (
            "the visit was taken by another agent"
            if request.state in (RequestState.ASSIGNED, RequestState.DONE)
            else f"the visit was withdrawn (it is {request.state})"
        ),
        OfferState.DECLINED: "this agent declined it",
        OfferState.ACCEPTED: "this agent accepted it",
    }[OfferState(state)]
    raise OfferClosedError(
        f"offer {offer.offer_id} for visit {offer.visit_id} is closed: {cause}",
        offer_id=str(offer.offer_id),
        offer_state=str(state),
        visit_id=str(offer.visit_id),
        visit_state=request.state,
    )


async def _eligible_agent(session: AsyncSession, agent_id: uuid.UUID) -> Row[Any]:
    """Return the agent's row, or raise if the agent may not accept.

    An agent suspended or unverified after an offer was made gets no new
    offers, and cannot accept the ones still open either.
    """
    agent = await repository.get_agent(session, agent_id)
    if agent is None:
        raise NotFoundError(f"agent {agent_id} not found")
    if agent.status == AgentStatus.SUSPENDED or not agent.verified:
        raise AgentNotEligibleError(
            f"agent {agent_id} is {agent.status}"
            f"{'' if agent.verified else ' and unverified'}, so it cannot accept "
            "offers; ask the operator to reinstate the agent",
            agent_status=agent.status,
            verified=agent.verified,
        )
    return agent


async def _assignment(session: AsyncSession, offer_id: uuid.UUID) -> AgentAssignment:
    row = await repository.assignment_of_offer(session, offer_id)
    if row is None:
        raise NotFoundError(f"offer {offer_id} has no assignment")
    return AgentAssignment(
        assignment_id=row.assignment_id,
        visit_id=row.visit_id,
        tenant_id=row.tenant_id,
        state=row.state,
        colonia=row.colonia,
        municipality=row.municipality,
        distance_m=row.distance_m,
        fee=Money(amount=row.fee_amount, currency=row.fee_currency),
        deadline=row.deadline,
        assigned_at=row.assigned_at,
        check_in_by=row.check_in_by,
        checked_in_at=row.checked_in_at,
        release_reason=row.release_reason,
        ended_at=row.ended_at,
    )


def _answer(offer_id: uuid.UUID, visit_id: uuid.UUID, state: str) -> OfferAnswer:
    return OfferAnswer(offer_id=offer_id, visit_id=visit_id, state=OfferState(state))
