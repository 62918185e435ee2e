import asyncio
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching.dispatch import Emit, retry_pending
from matching.models import AgentDailyLoad, Assignment, VisitRequest
from matching.service import accept_visit_request
from matching.settings import MatchingSettings
from shared.events.payloads import VisitRequested
from tests.integration.matching.helpers import Region, register, visit_requested

Sessionmaker = async_sessionmaker[AsyncSession]


async def _accept(
    sessionmaker: Sessionmaker, payload: VisitRequested, emit: Emit
) -> None:
    async with sessionmaker() as session, session.begin():
        await accept_visit_request(
            session, payload, emit=emit, settings=MatchingSettings()
        )


async def _active_assignments(
    sessionmaker: Sessionmaker,
    *,
    agent_id: uuid.UUID | None = None,
    visit_ids: list[uuid.UUID] | None = None,
) -> int:
    query = select(func.count()).select_from(Assignment)
    if agent_id is not None:
        query = query.where(Assignment.agent_id == agent_id)
    if visit_ids is not None:
        query = query.where(Assignment.visit_id.in_(visit_ids))
    async with sessionmaker() as session:
        return await session.scalar(query) or 0


async def _load(sessionmaker: Sessionmaker, agent_id: uuid.UUID) -> int:
    async with sessionmaker() as session:
        assigned = await session.scalar(
            select(AgentDailyLoad.assigned).where(AgentDailyLoad.agent_id == agent_id)
        )
    return assigned or 0


async def _states(sessionmaker: Sessionmaker, visit_ids: list[uuid.UUID]) -> list[str]:
    async with sessionmaker() as session:
        result = await session.scalars(
            select(VisitRequest.state).where(VisitRequest.visit_id.in_(visit_ids))
        )
        return list(result.all())


class TestConcurrentDispatch:
    async def test_concurrent_requests_never_overbook(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=200), daily_capacity=3)
        requests = [visit_requested(region.point(north_m=i * 30)) for i in range(10)]

        await asyncio.gather(*(_accept(sessionmaker, r, emit) for r in requests))

        assert await _active_assignments(sessionmaker, agent_id=agent.agent_id) == 3
        assert await _load(sessionmaker, agent.agent_id) == 3
        states = await _states(sessionmaker, [r.visit_id for r in requests])
        assert states.count("assigned") == 3
        assert states.count("pending") == 7

    async def test_concurrent_retries_never_overbook(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        first = await register(sessionmaker, region.point(east_m=200), daily_capacity=1)
        requests = [visit_requested(region.point(north_m=i * 30)) for i in range(6)]
        for request in requests:
            await _accept(sessionmaker, request, emit)
        second = await register(
            sessionmaker, region.point(east_m=-200), daily_capacity=2
        )
        settings = MatchingSettings()

        await asyncio.gather(
            *(
                retry_pending(sessionmaker, emit=emit, settings=settings)
                for _ in range(4)
            )
        )

        assert await _active_assignments(sessionmaker, agent_id=first.agent_id) == 1
        assert await _active_assignments(sessionmaker, agent_id=second.agent_id) == 2
        assert await _load(sessionmaker, second.agent_id) == 2
        states = await _states(sessionmaker, [r.visit_id for r in requests])
        assert states.count("assigned") == 3
        assert states.count("pending") == 3

    async def test_same_visit_at_once_assigned_once(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=200))
        request = visit_requested(region.point())

        await asyncio.gather(*(_accept(sessionmaker, request, emit) for _ in range(5)))

        count = await _active_assignments(sessionmaker, visit_ids=[request.visit_id])
        assert count == 1
        assert await _load(sessionmaker, agent.agent_id) == 1
