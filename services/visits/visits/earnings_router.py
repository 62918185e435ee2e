"""HTTP routes of the earnings ledger: the agent's own, and a tenant's view of one."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from shared.api import CurrentAgent, ResultsReader, SessionDep
from shared.errors import (
    NotFoundError,
    UnauthorizedError,
    UnprocessableError,
    problem_responses,
)
from visits import earnings
from visits.earnings_schemas import EarningsOut
from visits.router import Limit, Offset

earnings_router = APIRouter(prefix="/agents", tags=["earnings"])

PERIOD_RULES = (
    "`from` and `to` are dates (a whole UTC day, `to` included) or timestamps "
    "with an offset. A period longer than 366 days, or one whose `from` is "
    "after its `to`, is a 422 that names both values."
)
From = Annotated[
    str,
    Query(alias="from", description="Start: 2026-12-01 or 2026-12-01T00:00:00-06:00."),
]
To = Annotated[
    str, Query(description="End: a date includes that day; a timestamp is excluded.")
]


@earnings_router.get(
    "/me/earnings",
    summary="Summarise the calling agent's fees in a period",
    description=(
        "Totals per currency (pending, earned, reversed, net, visits) and the "
        "ledger's movements, newest first. " + PERIOD_RULES
    ),
    response_model=EarningsOut,
    responses=problem_responses(UnauthorizedError, UnprocessableError),
)
async def my_earnings(
    agent: CurrentAgent,
    session: SessionDep,
    from_: From,
    to: To,
    limit: Limit = 100,
    offset: Offset = 0,
) -> EarningsOut:
    period = earnings.parse_period(from_, to)
    return await earnings.agent_earnings(
        session, agent_id=agent.agent_id, period=period, limit=limit, offset=offset
    )


@earnings_router.get(
    "/{agent_id}/earnings",
    summary="Summarise an agent's fees from this tenant's visits in a period",
    description=(
        "Only the calling tenant's visits count. 404 when the agent never "
        "held a visit of this tenant. " + PERIOD_RULES
    ),
    response_model=EarningsOut,
    responses=problem_responses(UnauthorizedError, NotFoundError, UnprocessableError),
)
async def tenant_agent_earnings(
    agent_id: UUID,
    tenant: ResultsReader,
    session: SessionDep,
    from_: From,
    to: To,
    limit: Limit = 100,
    offset: Offset = 0,
) -> EarningsOut:
    period = earnings.parse_period(from_, to)
    return await earnings.agent_earnings(
        session,
        agent_id=agent_id,
        tenant_id=tenant.tenant_id,
        period=period,
        limit=limit,
        offset=offset,
    )
