"""Matching's rules outside dispatch: intake, completion and the read side."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from matching import repository
from matching.candidates import assignment_day, local_day
from matching.dispatch import Emit, dispatch, wait_end
from matching.hours import Window
from matching.models import AssignmentState, RequestState
from matching.schedule import Weekday
from matching.schemas import (
    AgentAssignment,
    AgentOffer,
    AgentProfile,
    LastLocation,
    VisitAssignment,
    VisitOffer,
    WorkingWindow,
)
from matching.settings import MatchingSettings
from shared.errors import NotFoundError
from shared.events.payloads import (
    AssignmentReleased,
    DispatchMode,
    Money,
    ReleaseReason,
    VisitCompleted,
    VisitRequested,
    VisitWithdrawn,
)

log = structlog.get_logger(__name__)


async def accept_visit_request(
    session: AsyncSession,
    payload: VisitRequested,
    *,
    emit: Emit,
    settings: MatchingSettings,
    now: datetime | None = None,
) -> None:
    """Store a visit request and dispatch it, in the caller's transaction.

    A request for a visit already stored changes nothing, whatever its event
    id, so one visit is never dispatched twice from its own event. `now`
    stands for the time of receipt, the current time when None.
    """
    now = now or datetime.now(UTC)
    address = payload.address
    inserted = await repository.insert_visit_request(
        session,
        visit_id=payload.visit_id,
        tenant_id=payload.tenant_id,
        campaign_id=payload.campaign_id,
        lat=payload.location.lat,
        lon=payload.location.lon,
        colonia=address.colonia,
        municipality=address.municipality,
        address_state=address.state,
        postal_code=address.postal_code,
        fee_amount=payload.fee.amount,
        fee_currency=payload.fee.currency,
        deadline=payload.deadline,
        requested_at=payload.requested_at,
        time_zone=payload.time_zone,
        **_dispatch_columns(payload, now, settings),
    )
    if not inserted:
        log.info("visit_request.already_known", visit_id=str(payload.visit_id))
        return
    await dispatch(session, payload.visit_id, emit=emit, settings=settings, now=now)


def _dispatch_columns(
    payload: VisitRequested, now: datetime, settings: MatchingSettings
) -> dict[str, Any]:
    """Return the request's dispatch columns; a request with no policy is assigned."""
    policy = payload.dispatch
    if policy is None:
        return {"dispatch_mode": DispatchMode.ASSIGN}
    # The wait starts when matching receives the request, so requests queued
    # behind a burst do not use up their wait before any agent saw them.
    received_at = max(payload.requested_at, now)
    window = policy.visiting_hours
    staff_first = timedelta(seconds=policy.staff_first_seconds)
    return {
        "dispatch_mode": policy.mode,
        "offer_timeout_seconds": policy.offer_timeout_seconds,
        "broadcast_size": policy.broadcast_size,
        "wait_until": wait_end(
            received_at,
            timedelta(seconds=policy.max_wait_seconds),
            deadline=payload.deadline,
            time_zone=payload.time_zone,
            window=None if window is None else Window(window.start, window.end),
            days=None if window is None else window.allowed_days,
            settings=settings,
        ),
        "max_wait_seconds": policy.max_wait_seconds,
        "visiting_start": None if window is None else window.start,
        "visiting_end": None if window is None else window.end,
        "visiting_days": None
        if window is None or window.allowed_days is None
        else [day.value for day in window.allowed_days],
        "marketplace_from": received_at + staff_first if staff_first else None,
        "max_travel_minutes": policy.max_travel_minutes,
    }


async def complete_assignment(session: AsyncSession, payload: VisitCompleted) -> None:
    """Mark the visit's active assignment and its request done."""
    now = datetime.now(UTC)
    assignment_id = await repository.finish_assignment(
        session,
        tenant_id=payload.tenant_id,
        visit_id=payload.visit_id,
        agent_id=payload.agent_id,
        at=now,
    )
    if assignment_id is None:
        # Already done by an earlier copy of the event, or a completion by an
        # agent who does not hold the visit: neither changes anything here.
        log.warning(
            "assignment.completion_ignored",
            visit_id=str(payload.visit_id),
            agent_id=str(payload.agent_id),
        )
        return
    await repository.transition_request(
        session,
        payload.visit_id,
        source=RequestState.ASSIGNED,
        target=RequestState.DONE,
        at=now,
    )
    log.info(
        "assignment.done",
        visit_id=str(payload.visit_id),
        assignment_id=str(assignment_id),
    )


async def withdraw_visit(
    session: AsyncSession, payload: VisitWithdrawn, *, emit: Emit
) -> None:
    """Cancel the request, withdraw its open offers and release its assignment.

    The released assignment gives the agent back one visit of capacity on the
    day it was assigned. A visit already done or unmatched stays as it is.
    The request's lock comes first, as for every writer of its offers.
    """
    now = datetime.now(UTC)
    await repository.lock_request(session, payload.visit_id)
    cancelled = await repository.cancel_request(session, payload.visit_id, at=now)
    offers = await repository.withdraw_open_offers(session, payload.visit_id, at=now)
    released = await repository.release_assignment(session, payload.visit_id, at=now)
    if released is not None:
        # NOTE: a withdrawal releases the assignment even after a check-in.
        # Visits keeps such a visit open, and its completion finds no active
        # assignment here.
        await repository.release_capacity(
            session, released.agent_id, assignment_day(released)
        )
        await emit(
            session,
            AssignmentReleased(
                tenant_id=released.tenant_id,
                assignment_id=released.assignment_id,
                visit_id=payload.visit_id,
                agent_id=released.agent_id,
                reason=ReleaseReason.VISIT_WITHDRAWN,
                released_at=now,
            ),
        )
    log.info(
        "visit_request.withdrawn",
        visit_id=str(payload.visit_id),
        reason=payload.reason.value,
        request_cancelled=cancelled,
        offers_withdrawn=offers,
        assignment_released=released is not None,
    )


async def get_agent_profile(
    session: AsyncSession, agent_id: uuid.UUID, *, default_zone: str
) -> AgentProfile:
    async with session.begin():
        agent = await repository.get_agent(session, agent_id)
        if agent is None:
            raise NotFoundError(
                f"agent {agent_id} not found: the token is valid but names no "
                "registered agent. Ask the operator to register the agent again"
            )
        today = local_day(datetime.now(UTC), agent.time_zone, default_zone)
        assigned = await repository.assigned_on(session, agent_id, today)
        hours = await repository.get_working_hours(session, agent_id)
        record = await repository.track_record(session, agent_id)
    fields = dict(agent._mapping)
    if fields["coverage_area"] is not None:
        fields["coverage_area"] = json.loads(fields["coverage_area"])
    last = {
        name: fields.pop(column)
        for name, column in (
            ("lat", "last_lat"),
            ("lon", "last_lon"),
            ("accuracy_m", "last_location_accuracy_m"),
            ("recorded_at", "last_location_at"),
            ("received_at", "last_location_received_at"),
        )
    }
    schedule: dict[str, list[WorkingWindow]] = {day.value: [] for day in Weekday}
    for weekday, start, end in hours:
        schedule[list(Weekday)[weekday - 1].value].append(
            WorkingWindow(start=start, end=end)
        )
    return AgentProfile(
        **fields,
        assigned_today=assigned,
        schedule=schedule,
        last_location=LastLocation(**last) if last["lat"] is not None else None,
        acceptance_rate=_rate(record.offers_accepted, record.offers_received),
        completion_rate=_rate(record.visits_completed, record.assignments_ended),
    )


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


async def list_agent_assignments(
    session: AsyncSession,
    agent_id: uuid.UUID,
    *,
    state: AssignmentState | None,
    limit: int,
) -> list[AgentAssignment]:
    async with session.begin():
        rows = await repository.list_agent_assignments(
            session, agent_id, state=state, limit=limit
        )
    return [
        AgentAssignment(
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
        for row in rows
    ]


async def list_agent_offers(
    session: AsyncSession, agent_id: uuid.UUID, *, limit: int
) -> list[AgentOffer]:
    async with session.begin():
        rows = await repository.list_open_offers(
            session, agent_id, now=datetime.now(UTC), limit=limit
        )
    return [
        AgentOffer(
            offer_id=row.offer_id,
            visit_id=row.visit_id,
            mode=row.dispatch_mode,
            colonia=row.colonia,
            municipality=row.municipality,
            state=row.address_state,
            distance_m=row.distance_m,
            fee=Money(amount=row.fee_amount, currency=row.fee_currency),
            deadline=row.deadline,
            offered_at=row.offered_at,
            expires_at=row.expires_at,
        )
        for row in rows
    ]


async def get_visit_assignment(
    session: AsyncSession, *, tenant_id: uuid.UUID, visit_id: uuid.UUID
) -> VisitAssignment:
    async with session.begin():
        row = await repository.get_visit_assignment(
            session, tenant_id=tenant_id, visit_id=visit_id
        )
    if row is None:
        raise NotFoundError(
            f"visit {visit_id} has no assignment: it is unknown to this tenant, "
            "still waiting for an agent, or unmatched"
        )
    return VisitAssignment.model_validate(row._mapping)


async def list_visit_offers(
    session: AsyncSession, *, tenant_id: uuid.UUID, visit_id: uuid.UUID
) -> list[VisitOffer]:
    async with session.begin():
        rows = await repository.list_visit_offers(
            session, tenant_id=tenant_id, visit_id=visit_id
        )
    if rows is None:
        raise NotFoundError(f"visit {visit_id} is unknown to this tenant")
    return [VisitOffer.model_validate(row._mapping) for row in rows]
