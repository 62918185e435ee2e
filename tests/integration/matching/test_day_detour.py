"""Travel is scored as the detour a visit adds to the agent's day.

An agent with visits not yet started will make them anyway, so a new
visit next to one of them costs that agent little, however far its base.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching.dispatch import Emit
from matching.models import Assignment, Offer
from matching.service import accept_visit_request
from matching.settings import MatchingSettings
from shared.events.payloads import VisitRequested
from tests.integration.matching.helpers import Region, register, visit_requested

Sessionmaker = async_sessionmaker[AsyncSession]

SETTINGS = MatchingSettings(visiting_hours=False, batch_interval_seconds=0)


async def _receive(
    sessionmaker: Sessionmaker, request: VisitRequested, emit: Emit
) -> None:
    async with sessionmaker() as session, session.begin():
        await accept_visit_request(
            session, request, emit=emit, settings=SETTINGS, now=datetime.now(UTC)
        )


async def _holder(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> uuid.UUID | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(Assignment.agent_id).where(
                Assignment.visit_id == visit_id, Assignment.state == "active"
            )
        )


async def _travel_factor(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> Any:
    async with sessionmaker() as session:
        ranking = await session.scalar(
            select(Offer.ranking).where(Offer.visit_id == visit_id)
        )
    return next(f for f in ranking["factors"] if f["name"] == "travel")


class TestDayDetour:
    async def test_nearby_visit_goes_to_holder(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        # The first agent lives at the center and has a visit 3 km east.
        holder = await register(sessionmaker, region.point())
        first = visit_requested(region.point(east_m=3000))
        await _receive(sessionmaker, first, emit)
        assert await _holder(sessionmaker, first.visit_id) == holder.agent_id
        # A second agent lives 1.5 km east, nearer to a new visit 3.2 km east
        # than the holder's base (1.7 km against 3.2 km). The holder passes
        # 200 m from it anyway.
        neighbour = await register(sessionmaker, region.point(east_m=1500))
        second = visit_requested(region.point(east_m=3200))

        await _receive(sessionmaker, second, emit)

        assert await _holder(sessionmaker, second.visit_id) == holder.agent_id
        travel = await _travel_factor(sessionmaker, second.visit_id)
        # 200 m at the default motorcycle speed of 25 km/h: under a minute.
        assert travel["raw"] < 1.0
        assert neighbour.agent_id != holder.agent_id

    async def test_offway_visit_goes_elsewhere(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        holder = await register(sessionmaker, region.point())
        first = visit_requested(region.point(east_m=3000))
        await _receive(sessionmaker, first, emit)
        assert await _holder(sessionmaker, first.visit_id) == holder.agent_id
        # A new visit 1 km west of the holder's base, 1.5 km south of the
        # neighbour's. Measured from the bases the holder is nearer, but
        # going west first adds 2 km to the holder's day (1 km there, 4 km
        # on to the held visit, against 3 km straight).
        neighbour = await register(
            sessionmaker, region.point(east_m=-1000, north_m=1500)
        )
        second = visit_requested(region.point(east_m=-1000))

        await _receive(sessionmaker, second, emit)

        assert await _holder(sessionmaker, second.visit_id) == neighbour.agent_id
