"""HTTP routes: the agent API under /agent/visits and the tenant API under /visits."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from shared.api import (
    CurrentAgent,
    ResultsReader,
    RuntimeDep,
    SessionDep,
)
from shared.audit import record_read
from shared.auth import Agent
from shared.errors import (
    ConflictError,
    InvalidStateError,
    NotFoundError,
    UnauthorizedError,
    UnprocessableError,
    problem_responses,
)
from shared.masking import disclose
from shared.runtime import ServiceRuntime
from visits import results, service, views
from visits.schemas import (
    AgentVisit,
    AgentVisitList,
    CheckInRequest,
    CheckInResponse,
    ResultRequest,
    ResultResponse,
    VisitDetail,
    VisitPage,
)
from visits.states import OPEN_AGENT_STATES, VisitState

agent_router = APIRouter(prefix="/agent/visits", tags=["agent"])
tenant_router = APIRouter(prefix="/visits", tags=["visits"])

MAX_OFFSET = 1_000_000

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[
    int,
    Query(ge=0, le=MAX_OFFSET, description=f"Items to skip, at most {MAX_OFFSET}."),
]


@agent_router.get(
    "",
    summary="List the agent's visits with their briefs",
    response_model=AgentVisitList,
    responses=problem_responses(UnauthorizedError),
)
async def list_agent_visits(
    agent: CurrentAgent,
    runtime: RuntimeDep,
    session: SessionDep,
    state: Annotated[
        list[VisitState] | None,
        Query(description="States to list; assigned and checked_in by default."),
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> AgentVisitList:
    page = await views.list_agent_visits(
        session,
        agent.agent_id,
        states=state or list(OPEN_AGENT_STATES),
        limit=limit,
        offset=offset,
    )
    await _record_agent_read(runtime, session, agent, page.items)
    return page


@agent_router.get(
    "/{visit_id}",
    summary="Get one of the agent's visits",
    response_model=AgentVisit,
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def get_agent_visit(
    visit_id: UUID, agent: CurrentAgent, runtime: RuntimeDep, session: SessionDep
) -> AgentVisit:
    visit = await views.get_agent_visit(session, agent.agent_id, visit_id)
    await _record_agent_read(runtime, session, agent, [visit])
    return visit


async def _record_agent_read(
    runtime: ServiceRuntime,
    session: AsyncSession,
    agent: Agent,
    visits: list[AgentVisit],
) -> None:
    """Audit the debtor data an agent was shown, one record per tenant."""
    shown = [visit.visit_id for visit in visits if not visit.debtor_data_withheld]
    if not shown:
        return
    async with session.begin():
        tenants = await views.tenants_of(session, shown)
    for tenant_id, visit_ids in tenants.items():
        await record_read(
            runtime,
            tenant_id=tenant_id,
            actor=f"agent:{agent.agent_id}",
            resource="visit",
            resource_ids=visit_ids,
            visit_id=visit_ids[0] if len(visit_ids) == 1 else None,
        )


@agent_router.post(
    "/{visit_id}/check-in",
    summary="Check in at the address with a GPS fix",
    description=(
        "409 names the visit's `current_state` when the visit is not "
        "assigned to this agent or checked in, and adds `release_reason` "
        "when matching took the visit back from this agent (given back, no "
        "check-in in time, or suspended)."
    ),
    status_code=status.HTTP_201_CREATED,
    response_model=CheckInResponse,
    responses=problem_responses(
        UnauthorizedError, NotFoundError, InvalidStateError, UnprocessableError
    ),
)
async def check_in(
    visit_id: UUID,
    body: CheckInRequest,
    agent: CurrentAgent,
    session: SessionDep,
    runtime: RuntimeDep,
) -> CheckInResponse:
    return await service.check_in(
        session, runtime, agent_id=agent.agent_id, visit_id=visit_id, request=body
    )


@agent_router.post(
    "/{visit_id}/result",
    summary="Send the result of a checked-in visit",
    description=(
        "Returns 201 for a new result. Sending the same submission_id again "
        "returns the first response with status 200 and changes nothing. 409 "
        "with `release_reason` when matching took the visit back from this "
        "agent before the check-in."
    ),
    status_code=status.HTTP_201_CREATED,
    response_model=ResultResponse,
    responses={
        200: {"model": ResultResponse, "description": "Resubmission replayed"},
        **problem_responses(
            UnauthorizedError,
            NotFoundError,
            ConflictError,
            UnprocessableError,
        ),
    },
)
async def submit_result(
    visit_id: UUID,
    body: ResultRequest,
    agent: CurrentAgent,
    session: SessionDep,
    runtime: RuntimeDep,
) -> JSONResponse:
    status_code, response = await results.submit_result(
        session, runtime, agent_id=agent.agent_id, visit_id=visit_id, request=body
    )
    return JSONResponse(response, status_code=status_code)


@tenant_router.get(
    "",
    summary="List the tenant's visits",
    response_model=VisitPage,
    responses=problem_responses(UnauthorizedError),
)
async def list_visits(
    tenant: ResultsReader,
    session: SessionDep,
    campaign_id: UUID | None = None,
    state: VisitState | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    flagged: Annotated[
        bool | None,
        Query(description="true: only visits the fraud score flagged."),
    ] = None,
) -> VisitPage:
    return await views.list_tenant_visits(
        session,
        tenant.tenant_id,
        campaign_id=campaign_id,
        state=state,
        limit=limit,
        offset=offset,
        flagged=flagged,
    )


@tenant_router.get(
    "/{visit_id}",
    summary="Get one visit with its check-ins and result",
    response_model=VisitDetail,
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def get_visit(
    visit_id: UUID, tenant: ResultsReader, runtime: RuntimeDep, session: SessionDep
) -> VisitDetail:
    visit = await views.get_tenant_visit(session, tenant.tenant_id, visit_id)
    return await disclose(
        visit,
        tenant,
        runtime,
        resource="visit",
        resource_ids=[visit_id],
        visit_id=visit_id,
        campaign_id=visit.campaign_id,
    )
