"""HTTP routes of the figures per agent, zone and day, and of the leaderboard."""

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query

from reporting import breakdowns
from reporting.breakdown_schemas import (
    AgentFiguresList,
    DayFiguresList,
    Leaderboard,
    ZoneFiguresList,
)
from shared.api import ResultsReader, SessionDep
from shared.errors import (
    NotFoundError,
    UnauthorizedError,
    UnprocessableError,
    problem_responses,
)

router = APIRouter(tags=["figures"])

ERRORS = problem_responses(UnauthorizedError, NotFoundError, UnprocessableError)


class ZoneLevel(StrEnum):
    STATE = "state"
    MUNICIPALITY = "municipality"
    POSTAL_CODE = "postal_code"


FirstDay = Annotated[
    date | None,
    Query(alias="from", description="First local day, YYYY-MM-DD, included."),
]
LastDay = Annotated[
    date | None,
    Query(alias="to", description="Last local day, YYYY-MM-DD, included."),
]
TimeZone = Annotated[
    str | None,
    Query(
        max_length=64,
        description="IANA zone of the days; the tenant's country zone when absent.",
    ),
]


@router.get(
    "/campaigns/{campaign_id}/agents",
    response_model=AgentFiguresList,
    summary="Figures of each agent of a campaign, in leaderboard order",
    responses=ERRORS,
)
async def campaign_agents(
    campaign_id: uuid.UUID, session: SessionDep, tenant: ResultsReader
) -> AgentFiguresList:
    return await breakdowns.campaign_agents(session, tenant.tenant_id, campaign_id)


@router.get(
    "/campaigns/{campaign_id}/zones",
    response_model=ZoneFiguresList,
    summary="Figures of each state, municipality or postal code of a campaign",
    responses=ERRORS,
)
async def campaign_zones(
    campaign_id: uuid.UUID,
    session: SessionDep,
    tenant: ResultsReader,
    level: ZoneLevel = ZoneLevel.MUNICIPALITY,
) -> ZoneFiguresList:
    return await breakdowns.campaign_zones(
        session, tenant.tenant_id, campaign_id, level.value
    )


@router.get(
    "/campaigns/{campaign_id}/days",
    response_model=DayFiguresList,
    summary="Figures of each local day of a campaign; at most 366 days",
    description="Without `to` the range ends today, and without `from` it "
    "covers 31 days.",
    responses=ERRORS,
)
async def campaign_days(
    campaign_id: uuid.UUID,
    session: SessionDep,
    tenant: ResultsReader,
    first: FirstDay = None,
    last: LastDay = None,
    tz: TimeZone = None,
) -> DayFiguresList:
    return await breakdowns.campaign_days(
        session, tenant.tenant_id, campaign_id, first=first, last=last, tz=tz
    )


@router.get(
    "/leaderboard",
    response_model=Leaderboard,
    summary="Agents ranked over a period, in one campaign or all of them",
    description="Sorted by completed visits, then promised amount, contact rate "
    "and fewest rejections. Without `from` and `to` the period is all time.",
    responses=ERRORS,
)
async def leaderboard(
    session: SessionDep,
    tenant: ResultsReader,
    first: FirstDay = None,
    last: LastDay = None,
    campaign_id: uuid.UUID | None = None,
    tz: TimeZone = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> Leaderboard:
    return await breakdowns.leaderboard(
        session,
        tenant.tenant_id,
        campaign_id=campaign_id,
        first=first,
        last=last,
        tz=tz,
        limit=limit,
    )
