"""Check-ins at the door, and the helpers every agent action shares."""

from datetime import UTC, datetime
from typing import Any, NoReturn
from uuid import UUID, uuid4

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import InvalidStateError, NotFoundError
from shared.events import Payload
from shared.events.payloads import VisitCheckedIn
from shared.runtime import ServiceRuntime
from shared.tenancy import across_agents
from visits import door_checks, door_location, door_rules, repository, rules
from visits.schemas import CheckInRequest, CheckInResponse
from visits.settings import VisitsSettings
from visits.states import VisitState

log = structlog.get_logger(__name__)


def visits_settings(runtime: ServiceRuntime) -> VisitsSettings:
    settings = runtime.settings
    if not isinstance(settings, VisitsSettings):
        raise TypeError("the visits runtime must be built with VisitsSettings")
    return settings


def visit_not_found(visit_id: UUID) -> NotFoundError:
    return NotFoundError(
        f"visit {visit_id} not found among the visits assigned to this agent"
    )


async def _raise_transition_error(
    session: AsyncSession, visit_id: UUID, agent_id: UUID, requirement: str
) -> NoReturn:
    state = await repository.visit_state(session, visit_id, agent_id=agent_id)
    if state is None:
        await raise_if_released(session, visit_id, agent_id)
        raise visit_not_found(visit_id)
    raise InvalidStateError(
        f"visit {visit_id} is {state}; {requirement}", current_state=state
    )


async def raise_if_released(
    session: AsyncSession, visit_id: UUID, agent_id: UUID
) -> None:
    """Raise a 409 naming the visit's state when it was taken from this agent.

    The agent held the visit until matching released the assignment (given
    back, no check-in in time, or suspended), so a 404 would mislead them.
    """
    released = await repository.release_from(session, visit_id, agent_id)
    if released is None:
        return
    # The visit is another agent's or nobody's now; the agent that held it
    # learns its state, nothing else.
    async with across_agents(session):
        state = await repository.visit_state(session, visit_id)
    raise InvalidStateError(
        f"visit {visit_id} is no longer this agent's: its assignment was "
        f"released ({released.reason}) at {released.released_at.isoformat()}, "
        f"and the visit is {state} now",
        current_state=state,
        release_reason=released.reason,
    )


async def check_in(
    session: AsyncSession,
    runtime: ServiceRuntime,
    *,
    agent_id: UUID,
    visit_id: UUID,
    request: CheckInRequest,
) -> CheckInResponse:
    """Record a GPS fix at the door; a far or inaccurate one is kept, unverified."""
    settings = visits_settings(runtime)
    now = datetime.now(UTC)
    rules.raise_if_any(device_time_errors(request.device_time, now, settings))
    async with session.begin():
        visit = await repository.mark_checked_in(
            session,
            visit_id,
            agent_id=agent_id,
            lat=request.lat,
            lon=request.lon,
            now=now,
        )
        if visit is None:
            await _raise_transition_error(
                session,
                visit_id,
                agent_id,
                "a check-in needs the visit assigned or already checked in",
            )
        await door_checks.check_at_door(
            session,
            visit,
            judged=door_rules.judged_time(request.device_time, now),
            visiting_hours=settings.visiting_hours,
        )
        verified = rules.is_verified(
            distance_m=visit.distance_m,
            accuracy_m=request.accuracy_m,
            mock_location=request.mock_location,
            geofence_radius_meters=settings.geofence_radius_meters,
            max_accuracy_meters=settings.max_accuracy_meters,
            address_radius_meters=door_location.geocode_radius_meters(visit),
        )
        check_in_id = uuid4()
        events = _check_in_events(
            visit,
            request,
            agent_id=agent_id,
            check_in_id=check_in_id,
            verified=verified,
            now=now,
        )
        await repository.insert_check_in(
            session,
            lat=request.lat,
            lon=request.lon,
            events=runtime.outbox_rows(events) if events else None,
            check_in_id=check_in_id,
            visit_id=visit_id,
            tenant_id=visit.tenant_id,
            agent_id=agent_id,
            accuracy_m=request.accuracy_m,
            mock_location=request.mock_location,
            distance_m=visit.distance_m,
            verified=verified,
            device_time=request.device_time,
            server_time=now,
        )
    log.info(
        "visits.checked_in",
        visit_id=str(visit_id),
        agent_id=str(agent_id),
        check_in_id=str(check_in_id),
        distance_m=round(visit.distance_m, 1),
        verified=verified,
    )
    return CheckInResponse(
        check_in_id=check_in_id,
        visit_id=visit_id,
        state=VisitState(visit.state),
        distance_m=visit.distance_m,
        verified=verified,
        checked_in_at=now,
    )


def _check_in_events(
    visit: Any,
    request: CheckInRequest,
    *,
    agent_id: UUID,
    check_in_id: UUID,
    verified: bool,
    now: datetime,
) -> list[Payload]:
    """Announce the first check-in, and a first verified fix that places the door."""
    events: list[Payload] = []
    if visit.check_in_count == 1:
        events.append(
            VisitCheckedIn(
                tenant_id=visit.tenant_id,
                visit_id=visit.visit_id,
                campaign_id=visit.campaign_id,
                agent_id=agent_id,
                checked_in_at=now,
                device_time=request.device_time,
                distance_m=visit.distance_m,
                accuracy_m=request.accuracy_m,
                verified=verified,
                lat=request.lat,
                lon=request.lon,
            )
        )
    if (
        verified
        and door_location.improves_geocode(visit, request)
        and not visit.has_verified_check_in
    ):
        events.append(
            door_location.location_observed(
                visit,
                request,
                visit_id=visit.visit_id,
                agent_id=agent_id,
                check_in_id=check_in_id,
                now=now,
            )
        )
    return events


def device_time_errors(
    device_time: datetime, now: datetime, settings: VisitsSettings
) -> list[rules.FieldError]:
    return rules.check_device_time(
        device_time,
        now=now,
        clock_skew_seconds=settings.clock_skew_seconds,
        late_sync_limit_hours=settings.late_sync_limit_hours,
    )
