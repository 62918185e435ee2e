"""Assignments that end before the visit: given back, lapsed, or lost on suspension.

An active assignment with no check-in can be released three ways here: the
agent gives the visit back, the check-in deadline passes (`release_lapsed`),
or the operator suspends the agent (`suspend_agent`). Each returns the agent's
capacity for the day of the assignment, emits `AssignmentReleased`, and
dispatches the visit again at once. The released agent has an offer record
for the visit, so `find_candidates` never picks them again.

An assignment with a check-in is never released here: the agent is at the
door. Matching learns of check-ins from `campo.visit.checked_in`, so a
check-in that visits has accepted but matching has not read yet does not
stop a release (see the README).
"""

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching import repository
from matching.candidates import assignment_day
from matching.dispatch import DispatchOutcome, Emit, dispatch, wait_end
from matching.hours import campaign_days, campaign_window
from matching.models import AgentStatus, AssignmentState, RequestState, common
from matching.offers import pass_on
from matching.schemas import AgentAssignment, ReleaseIn
from matching.settings import MatchingSettings
from shared.errors import PROBLEM_TYPE_BASE, ConflictError, NotFoundError
from shared.events.payloads import (
    AssignmentReleased,
    Money,
    Payload,
    ReleaseReason,
    VisitCheckedIn,
)
from shared.outbox import add_event
from shared.tenancy import leave_agent_scope

log = structlog.get_logger(__name__)


class AssignmentNotActiveError(ConflictError):
    code = "assignment-not-active"
    title = "The assignment is no longer active"


class VisitUnderWayError(ConflictError):
    code = "visit-under-way"
    title = "The agent has checked in, so the visit cannot be given back"


_EXAMPLE_VISIT = "0b9f6a52-3c1e-4d7a-9a51-6f2d0c8e4b17"
_EXAMPLE_ASSIGNMENT = "5d2c9e81-7a40-4f3b-8c6e-1e9b2a7d5f30"

_RELEASE_PATH = f"/assignments/{_EXAMPLE_VISIT}/release"

# Problem documents of the release route, by status, for its OpenAPI document.
RELEASE_PROBLEM_EXAMPLES: dict[int, dict[str, dict[str, Any]]] = {
    404: {
        "not_this_agents": {
            "summary": "Another agent's visit, or no such visit",
            "value": {
                "type": PROBLEM_TYPE_BASE + NotFoundError.code,
                "title": NotFoundError.title,
                "status": 404,
                "detail": f"visit {_EXAMPLE_VISIT} not found among this agent's "
                "assignments",
                "instance": _RELEASE_PATH,
            },
        }
    },
    409: {
        "already_released": {
            "summary": "Released before",
            "value": {
                "type": PROBLEM_TYPE_BASE + AssignmentNotActiveError.code,
                "title": AssignmentNotActiveError.title,
                "status": 409,
                "detail": f"assignment {_EXAMPLE_ASSIGNMENT} of visit {_EXAMPLE_VISIT} "
                "is not active: it was released (schedule_conflict) at "
                "2026-12-04T17:05:12+00:00",
                "instance": _RELEASE_PATH,
                "assignment_id": _EXAMPLE_ASSIGNMENT,
                "assignment_state": "released",
                "release_reason": "schedule_conflict",
            },
        },
        "checked_in": {
            "summary": "The agent has checked in",
            "value": {
                "type": PROBLEM_TYPE_BASE + VisitUnderWayError.code,
                "title": VisitUnderWayError.title,
                "status": 409,
                "detail": f"visit {_EXAMPLE_VISIT} is under way: this agent checked "
                "in at 2026-12-04T16:40:03+00:00; file the result in the visits API "
                "instead",
                "instance": _RELEASE_PATH,
                "assignment_id": _EXAMPLE_ASSIGNMENT,
                "assignment_state": "active",
                "checked_in_at": "2026-12-04T16:40:03+00:00",
            },
        },
    },
}


async def release_by_agent(
    session: AsyncSession,
    *,
    agent_id: uuid.UUID,
    visit_id: uuid.UUID,
    answer: ReleaseIn,
    emit: Emit,
    settings: MatchingSettings,
) -> AgentAssignment:
    """Give back the agent's active assignment of the visit, and dispatch it again.

    404 when the agent never held the visit; 409 when the assignment is no
    longer active, or when the agent has checked in.
    """
    async with session.begin():
        # The request's lock first, as for every writer of the visit.
        request = await repository.lock_request(session, visit_id)
        assignment = None
        if request is not None:
            assignment = await repository.latest_agent_assignment(
                session, visit_id=visit_id, agent_id=agent_id
            )
        if assignment is None:
            raise NotFoundError(
                f"visit {visit_id} not found among this agent's assignments"
            )
        _require_releasable(visit_id, assignment)
        # Dispatching the visit again reads and makes other agents' offers.
        await leave_agent_scope(session)
        now = datetime.now(UTC)
        await release_locked(
            session,
            assignment.assignment_id,
            reason=ReleaseReason(answer.reason.value),
            note=answer.note,
            emit=emit,
            settings=settings,
            now=now,
        )
        row = await repository.assignment_of_offer(session, assignment.offer_id)
    assert row is not None
    return agent_assignment(row)


def _require_releasable(visit_id: uuid.UUID, assignment: Row[Any]) -> None:
    """Raise unless the assignment is active and has no check-in."""
    if assignment.state != AssignmentState.ACTIVE:
        cause = f"the visit is {assignment.state}"
        if assignment.state == AssignmentState.RELEASED:
            ended_at = assignment.ended_at.isoformat()
            cause = f"it was released ({assignment.release_reason}) at {ended_at}"
        raise AssignmentNotActiveError(
            f"assignment {assignment.assignment_id} of visit {visit_id} is not active: "
            f"{cause}",
            assignment_id=str(assignment.assignment_id),
            assignment_state=assignment.state,
            release_reason=assignment.release_reason,
        )
    if assignment.checked_in_at is not None:
        raise VisitUnderWayError(
            f"visit {visit_id} is under way: this agent checked in at "
            f"{assignment.checked_in_at.isoformat()}; file the result in the visits "
            "API instead",
            assignment_id=str(assignment.assignment_id),
            assignment_state=assignment.state,
            checked_in_at=assignment.checked_in_at.isoformat(),
        )


async def release_locked(
    session: AsyncSession,
    assignment_id: uuid.UUID,
    *,
    reason: ReleaseReason,
    emit: Emit,
    settings: MatchingSettings,
    now: datetime,
    note: str | None = None,
) -> DispatchOutcome | None:
    """Release an active assignment with no check-in, then dispatch its visit.

    The caller holds the lock of the assignment's visit request. Returns the
    outcome of the new dispatch, or None when the assignment was not active
    or had a check-in, and nothing changed.
    """
    released = await repository.release_unstarted_assignment(
        session, assignment_id, reason=reason, at=now, note=note
    )
    if released is None:
        return None
    await repository.release_capacity(
        session, released.agent_id, assignment_day(released)
    )
    await emit(
        session,
        AssignmentReleased(
            tenant_id=released.tenant_id,
            assignment_id=released.assignment_id,
            visit_id=released.visit_id,
            agent_id=released.agent_id,
            reason=reason,
            released_at=now,
        ),
    )
    # Back to pending, so that dispatch, which takes only pending requests,
    # finds the next agent in this transaction.
    await repository.transition_request(
        session,
        released.visit_id,
        source=RequestState.ASSIGNED,
        target=RequestState.PENDING,
        at=now,
    )
    await _wait_anew(session, released.visit_id, settings=settings, now=now)
    outcome = await dispatch(
        session, released.visit_id, emit=emit, settings=settings, now=now
    )
    log.info(
        "assignment.released",
        visit_id=str(released.visit_id),
        assignment_id=str(assignment_id),
        agent_id=str(released.agent_id),
        reason=reason.value,
        next_step=outcome,
    )
    return outcome


async def release_lapsed(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    emit: Emit,
    settings: MatchingSettings,
    now: datetime | None = None,
) -> Counter[DispatchOutcome]:
    """Release the assignments whose `check_in_by` passed with no check-in.

    Each visit gets a transaction of its own and is dispatched again. Returns
    the count of each dispatch outcome; SKIPPED counts a visit another
    writer held, or an assignment that got its check-in meanwhile.
    """
    now = now or datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        lapsed = await repository.lapsed_assignments(
            session, now=now, limit=settings.check_in_lapse_batch_size
        )
    outcomes: Counter[DispatchOutcome] = Counter()
    for row in lapsed:
        outcome = await _release_lapsed_one(
            sessionmaker, row.visit_id, row.assignment_id, emit, settings, now
        )
        outcomes[outcome] += 1
    return outcomes


async def _release_lapsed_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    visit_id: uuid.UUID,
    assignment_id: uuid.UUID,
    emit: Emit,
    settings: MatchingSettings,
    now: datetime,
) -> DispatchOutcome:
    try:
        async with sessionmaker() as session, session.begin():
            locked = await repository.lock_request(session, visit_id, skip_locked=True)
            if locked is None:
                return DispatchOutcome.SKIPPED
            outcome = await release_locked(
                session,
                assignment_id,
                reason=ReleaseReason.NO_CHECK_IN,
                emit=emit,
                settings=settings,
                now=now,
            )
            return DispatchOutcome.SKIPPED if outcome is None else outcome
    except Exception:
        # One failing visit must not stop the others; the next pass retries it.
        log.exception("assignment.lapse_failed", visit_id=str(visit_id))
        return DispatchOutcome.FAILED


async def record_check_in(session: AsyncSession, payload: VisitCheckedIn) -> None:
    """Store the agent's first check-in on the agent's active assignment of the visit.

    A check-in for an assignment already released changes nothing: the visit
    went to someone else, or is waiting for them.
    """
    await repository.lock_request(session, payload.visit_id)
    assignment_id = await repository.record_check_in(
        session,
        visit_id=payload.visit_id,
        agent_id=payload.agent_id,
        at=payload.checked_in_at,
    )
    if assignment_id is None:
        log.warning(
            "assignment.check_in_ignored",
            visit_id=str(payload.visit_id),
            agent_id=str(payload.agent_id),
            checked_in_at=payload.checked_in_at.isoformat(),
        )
        return
    log.info(
        "assignment.checked_in",
        visit_id=str(payload.visit_id),
        assignment_id=str(assignment_id),
    )


@dataclass
class Suspension:
    """Visits whose offer or assignment a suspension changed, by visit id."""

    offers_withdrawn: list[uuid.UUID] = field(default_factory=list)
    assignments_released: list[uuid.UUID] = field(default_factory=list)
    assignments_kept_checked_in: list[uuid.UUID] = field(default_factory=list)


async def suspend_agent(
    sessionmaker: async_sessionmaker[AsyncSession],
    agent_id: uuid.UUID,
    *,
    emit: Emit,
    settings: MatchingSettings,
) -> Suspension | None:
    """Suspend the agent and hand the agent's open work to others at once.

    Open offers are withdrawn, and active assignments with no check-in are
    released (`agent_suspended`); each of those visits is dispatched again.
    An assignment with a check-in stays: the agent is at the door. Returns
    None for no such agent.

    The suspension commits first, so that no dispatch or accept that starts
    afterwards gives the agent more work, and the hand-over runs in a second
    transaction.
    """
    async with sessionmaker() as session, session.begin():
        if not await repository.set_agent_columns(
            session, agent_id, status=AgentStatus.SUSPENDED
        ):
            return None
    async with sessionmaker() as session, session.begin():
        return await _hand_over(session, agent_id, emit, settings)


async def _hand_over(
    session: AsyncSession,
    agent_id: uuid.UUID,
    emit: Emit,
    settings: MatchingSettings,
) -> Suspension:
    """Withdraw a suspended agent's open offers and release its unstarted visits."""
    now = datetime.now(UTC)
    offered = await repository.agent_open_offer_visits(session, agent_id)
    active = await repository.agent_active_assignments(session, agent_id)
    # Every visit is locked before any capacity row, and in visit id order:
    # another suspension, or an accept by this agent, then cannot wait on a
    # lock this transaction holds while it waits on theirs.
    for visit_id in sorted({*offered, *(row.visit_id for row in active)}):
        await repository.lock_request(session, visit_id)

    done = Suspension()
    for visit_id in offered:
        withdrawn = await repository.withdraw_agent_offer(
            session, visit_id=visit_id, agent_id=agent_id, at=now
        )
        if withdrawn is not None:
            done.offers_withdrawn.append(visit_id)
            await pass_on(session, visit_id, emit, settings, now)

    # Read again under the locks: an accept that began before the suspension
    # committed may have turned one of the offers into an assignment.
    for assignment in await repository.agent_active_assignments(session, agent_id):
        if assignment.checked_in_at is not None:
            done.assignments_kept_checked_in.append(assignment.visit_id)
            continue
        # Locked already, unless an assign-mode dispatch that read the agent
        # before the suspension assigned it since the first read.
        await repository.lock_request(session, assignment.visit_id)
        outcome = await release_locked(
            session,
            assignment.assignment_id,
            reason=ReleaseReason.AGENT_SUSPENDED,
            emit=emit,
            settings=settings,
            now=now,
        )
        if outcome is not None:
            done.assignments_released.append(assignment.visit_id)

    log.info(
        "agent.suspended",
        agent_id=str(agent_id),
        offers_withdrawn=len(done.offers_withdrawn),
        assignments_released=len(done.assignments_released),
        assignments_kept_checked_in=len(done.assignments_kept_checked_in),
    )
    return done


def outbox_emit(settings: MatchingSettings) -> Emit:
    """Return an `Emit` that writes to matching's outbox, for operator commands.

    The running service's relay publishes what these commands write.
    """

    async def write(session: AsyncSession, payload: Payload) -> object:
        return await add_event(
            session, common, payload, source="/matching", settings=settings
        )

    return write


def agent_assignment(row: Row[Any]) -> AgentAssignment:
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


async def _wait_anew(
    session: AsyncSession,
    visit_id: uuid.UUID,
    *,
    settings: MatchingSettings,
    now: datetime,
) -> None:
    """Give a released visit its campaign's whole wait again, from now.

    The first wait was used up while the agent held the visit: without a new
    one, a visit released after two days would end out of coverage at once.
    """
    request = await repository.lock_pending_request(session, visit_id)
    if request is None or request.max_wait_seconds is None:
        return
    await repository.set_wait_until(
        session,
        visit_id,
        wait_end(
            now,
            timedelta(seconds=request.max_wait_seconds),
            deadline=request.deadline,
            time_zone=request.time_zone,
            window=campaign_window(request.visiting_start, request.visiting_end),
            days=campaign_days(request.visiting_days),
            settings=settings,
        ),
    )
