"""Matching's HTTP routes: agents read their work, tenants read assignments."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from matching import service
from matching.models import AssignmentState
from matching.schemas import AgentAssignment, AgentProfile, VisitAssignment
from shared.api import CurrentAgent, CurrentTenant, SessionDep
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
async def get_my_profile(agent: CurrentAgent, session: SessionDep) -> AgentProfile:
    return await service.get_agent_profile(session, agent.agent_id)


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
    "/assignments/{visit_id}",
    tags=["assignments"],
    summary="The agent assigned to one of the tenant's visits",
    responses=problem_responses(UnauthorizedError, NotFoundError, UnprocessableError),
)
async def get_visit_assignment(
    visit_id: uuid.UUID, tenant: CurrentTenant, session: SessionDep
) -> VisitAssignment:
    return await service.get_visit_assignment(
        session, tenant_id=tenant.tenant_id, visit_id=visit_id
    )
