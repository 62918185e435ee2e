"""Matching's HTTP routes: agents read their work, tenants read assignments."""

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from matching import agents, itinerary, offers, release, service
from matching.agents import AgentSuspendedError, CoverageIn
from matching.models import AssignmentState
from matching.offers import AgentNotEligibleError, NoCapacityError, OfferClosedError
from matching.release import (
    RELEASE_PROBLEM_EXAMPLES,
    AssignmentNotActiveError,
    VisitUnderWayError,
)
from matching.schedule import ScheduleIn
from matching.schemas import (
    AgentAssignment,
    AgentOffer,
    AgentProfile,
    AgentRoute,
    DeclineIn,
    LocationIn,
    OfferAnswer,
    ReleaseIn,
    StatusIn,
    VisitAssignment,
    VisitOffer,
)
from matching.settings import matching_settings
from shared.api import (
    CurrentAgent,
    ResultsReader,
    RuntimeDep,
    SessionDep,
)
from shared.errors import (
    NotFoundError,
    UnauthorizedError,
    UnprocessableError,
    problem_responses,
)

router = APIRouter()


@router.get(
    "/agents/me",
    tags=["agents"],
    summary="The calling agent's profile",
    responses=problem_responses(UnauthorizedError, NotFoundError, UnprocessableError),
)
async def get_my_profile(
    agent: CurrentAgent, session: SessionDep, runtime: RuntimeDep
) -> AgentProfile:
    settings = matching_settings(runtime)
    return await service.get_agent_profile(
        session, agent.agent_id, default_zone=settings.default_agent_time_zone
    )


@router.put(
    "/agents/me/status",
    tags=["agents"],
    summary="Go online or offline",
    status_code=status.HTTP_204_NO_CONTENT,
    description=(
        "Offline agents get no offers. 409 when the operator suspended the "
        "agent: only the operator reinstates one."
    ),
    responses=problem_responses(
        UnauthorizedError, NotFoundError, AgentSuspendedError, UnprocessableError
    ),
)
async def put_my_status(
    change: StatusIn, agent: CurrentAgent, session: SessionDep
) -> None:
    await agents.set_own_status(session, agent.agent_id, change)


@router.put(
    "/agents/me/location",
    tags=["agents"],
    summary="Report the device's location",
    status_code=status.HTTP_204_NO_CONTENT,
    description=(
        "Stored as the agent's last known location. A fix older than the one "
        "stored is ignored, so fixes that arrive out of order do no harm."
    ),
    responses=problem_responses(UnauthorizedError, NotFoundError, UnprocessableError),
)
async def put_my_location(
    fix: LocationIn, agent: CurrentAgent, session: SessionDep
) -> None:
    await agents.set_own_location(session, agent.agent_id, fix)


@router.put(
    "/agents/me/schedule",
    tags=["agents"],
    summary="Set the working week",
    status_code=status.HTTP_204_NO_CONTENT,
    description=(
        "Replaces the working hours and their time zone. Offers then go to "
        "the agent only for visits whose deadline comes after the start of "
        "one of the agent's windows, or while a window runs."
    ),
    responses=problem_responses(UnauthorizedError, NotFoundError, UnprocessableError),
)
async def put_my_schedule(
    schedule: ScheduleIn, agent: CurrentAgent, session: SessionDep
) -> None:
    await agents.set_own_schedule(session, agent.agent_id, schedule)


@router.put(
    "/agents/me/coverage",
    tags=["agents"],
    summary="Set the area the agent covers",
    status_code=status.HTTP_204_NO_CONTENT,
    description=(
        "`area`, a GeoJSON Polygon or MultiPolygon, replaces the coverage "
        "circle; `radius_m` goes back to a circle around the base. 422 names "
        "the problem of an invalid area: an open ring, a position out of "
        "range, crossing edges, too large an area, or a corner more than "
        "200 km from the base."
    ),
    responses=problem_responses(UnauthorizedError, NotFoundError, UnprocessableError),
)
async def put_my_coverage(
    coverage: CoverageIn, agent: CurrentAgent, session: SessionDep
) -> None:
    await agents.set_own_coverage(session, agent.agent_id, coverage)


@router.get(
    "/agents/me/assignments",
    tags=["agents"],
    summary="The calling agent's assignments, newest first",
    responses=problem_responses(UnauthorizedError, UnprocessableError),
)
async def list_my_assignments(
    agent: CurrentAgent,
    session: SessionDep,
    state: Annotated[
        AssignmentState | None, Query(description="Only assignments in this state.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AgentAssignment]:
    return await service.list_agent_assignments(
        session, agent.agent_id, state=state, limit=limit
    )


@router.get(
    "/agents/me/route",
    tags=["agents"],
    summary="The calling agent's day: its active visits in order, with arrivals",
    description=(
        "Plans the agent's active visits into the day, from the last known "
        "location when it is fresh and the day is today, else from the base. "
        "Each stop has an arrival estimate inside the legal visiting hours of "
        "its address and the agent's working hours; visits that do not fit "
        "the day are listed with the reason. Areas only: the visits API has "
        "the addresses. 422 for a date that is not YYYY-MM-DD, is past, or is "
        "more than 366 days ahead."
    ),
    responses=problem_responses(UnauthorizedError, NotFoundError, UnprocessableError),
)
async def get_my_route(
    agent: CurrentAgent,
    session: SessionDep,
    runtime: RuntimeDep,
    day: Annotated[
        dt.date | None,
        Query(
            alias="date",
            description="YYYY-MM-DD; today in the agent's time zone by default.",
        ),
    ] = None,
) -> AgentRoute:
    settings = matching_settings(runtime)
    return await itinerary.agent_day_route(
        session,
        agent.agent_id,
        day=day,
        settings=settings,
        now=dt.datetime.now(dt.UTC),
    )


@router.get(
    "/agents/me/offers",
    tags=["offers"],
    summary="The calling agent's open offers, the soonest to expire first",
    responses=problem_responses(UnauthorizedError, UnprocessableError),
)
async def list_my_offers(
    agent: CurrentAgent,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AgentOffer]:
    return await service.list_agent_offers(session, agent.agent_id, limit=limit)


@router.post(
    "/offers/{offer_id}/accept",
    tags=["offers"],
    summary="Accept an open offer and take the visit",
    status_code=status.HTTP_201_CREATED,
    description=(
        "201 with the new assignment. Accepting an offer this agent already "
        "accepted answers 200 with the same assignment. 409 when the offer "
        "expired, was declined, or the visit was withdrawn or taken by "
        "another agent (`offer_state` and `visit_state` say which), when "
        "the agent has no free capacity left today, or when the agent was "
        "suspended or is unverified."
    ),
    responses={
        200: {"model": AgentAssignment, "description": "Accepted before."},
        **problem_responses(
            UnauthorizedError,
            NotFoundError,
            OfferClosedError,
            NoCapacityError,
            AgentNotEligibleError,
            UnprocessableError,
        ),
    },
)
async def accept_offer(
    offer_id: uuid.UUID,
    agent: CurrentAgent,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
) -> AgentAssignment:
    settings = matching_settings(runtime)
    assignment, created = await offers.accept_offer(
        session,
        agent_id=agent.agent_id,
        offer_id=offer_id,
        emit=runtime.emit,
        settings=settings,
    )
    if created:
        runtime.relay.notify()
    else:
        response.status_code = status.HTTP_200_OK
    return assignment


@router.post(
    "/offers/{offer_id}/decline",
    tags=["offers"],
    summary="Decline an open offer, with a reason",
    description=(
        "The visit passes to the next candidate, and is never offered to this "
        "agent again. Declining an offer already declined answers the same."
    ),
    responses=problem_responses(
        UnauthorizedError, NotFoundError, OfferClosedError, UnprocessableError
    ),
)
async def decline_offer(
    offer_id: uuid.UUID,
    answer: DeclineIn,
    agent: CurrentAgent,
    session: SessionDep,
    runtime: RuntimeDep,
) -> OfferAnswer:
    settings = matching_settings(runtime)
    declined = await offers.decline_offer(
        session,
        agent_id=agent.agent_id,
        offer_id=offer_id,
        answer=answer,
        emit=runtime.emit,
        settings=settings,
    )
    runtime.relay.notify()
    return declined


@router.post(
    "/assignments/{visit_id}/release",
    tags=["assignments"],
    summary="Give back a visit the agent holds and has not started",
    description=(
        "The agent's assignment of the visit becomes `released` with the "
        "reason, the agent's capacity for that day is freed, and the visit is "
        "offered to other agents at once, never to this one again. Only "
        "before the check-in: once the agent has checked in, the visit is "
        "under way (409 `visit-under-way`). 404 when this agent never held "
        "the visit; 409 `assignment-not-active` when the assignment was "
        "already released or done, with `assignment_state` and "
        "`release_reason`."
    ),
    responses=problem_responses(
        UnauthorizedError,
        NotFoundError,
        AssignmentNotActiveError,
        VisitUnderWayError,
        UnprocessableError,
        examples=RELEASE_PROBLEM_EXAMPLES,
    ),
)
async def release_assignment(
    visit_id: uuid.UUID,
    answer: ReleaseIn,
    agent: CurrentAgent,
    session: SessionDep,
    runtime: RuntimeDep,
) -> AgentAssignment:
    settings = matching_settings(runtime)
    released = await release.release_by_agent(
        session,
        agent_id=agent.agent_id,
        visit_id=visit_id,
        answer=answer,
        emit=runtime.emit,
        settings=settings,
    )
    runtime.relay.notify()
    return released


@router.get(
    "/assignments/{visit_id}",
    tags=["assignments"],
    summary="The agent assigned to one of the tenant's visits",
    responses=problem_responses(UnauthorizedError, NotFoundError, UnprocessableError),
)
async def get_visit_assignment(
    visit_id: uuid.UUID, tenant: ResultsReader, session: SessionDep
) -> VisitAssignment:
    return await service.get_visit_assignment(
        session, tenant_id=tenant.tenant_id, visit_id=visit_id
    )


@router.get(
    "/visits/{visit_id}/offers",
    tags=["assignments"],
    summary="The offers of one of the tenant's visits, and why each agent was chosen",
    description=(
        "The offers in the order they were made; offers made together, as in "
        "a broadcast, best ranked first. Each offer's `ranking` holds the "
        "score, every factor's raw value, normalised value, weight and "
        "contribution (the contributions add up to the score), the agent's "
        "place among the candidates considered, and the weights in force."
    ),
    responses=problem_responses(UnauthorizedError, NotFoundError, UnprocessableError),
)
async def list_visit_offers(
    visit_id: uuid.UUID, tenant: ResultsReader, session: SessionDep
) -> list[VisitOffer]:
    return await service.list_visit_offers(
        session, tenant_id=tenant.tenant_id, visit_id=visit_id
    )
