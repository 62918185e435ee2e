"""A suspension that lands while a placement is under way leaves no work.

Each test starts the suspension from inside the placement, after the agent
was read and before anything was committed, and lets it run until it has
to wait. A placement that has locked the agent finishes first, and the
hand-over then takes the new work back. A placement that locks the agent
only after the suspension finds it suspended and skips it.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching import batching, dispatch, repository, service
from matching.batching import batch_pending
from matching.dispatch import Emit
from matching.models import Agent, Assignment, Offer, VisitRequest
from matching.release import Suspension, suspend_agent
from matching.settings import MatchingSettings
from matching.solver_pool import SolverPool
from shared.events.payloads import DispatchMode, DispatchPolicy, VisitRequested
from tests.integration.matching.helpers import Region, register, visit_requested

Sessionmaker = async_sessionmaker[AsyncSession]
ASSIGN = DispatchPolicy(mode=DispatchMode.ASSIGN, max_wait_seconds=3 * 86400)
OFFER = DispatchPolicy(mode=DispatchMode.OFFER, max_wait_seconds=3 * 86400)
BATCHED = MatchingSettings(batch_interval_seconds=30, visiting_hours=False)
ONE_AT_A_TIME = MatchingSettings(batch_interval_seconds=0, visiting_hours=False)

# Long enough for an unhindered suspension and its hand-over to commit.
SUSPENSION_HEAD_START_SECONDS = 0.5


@pytest_asyncio.fixture(scope="module")
async def pool() -> AsyncIterator[SolverPool]:
    solver = SolverPool(time_limit_seconds=5)
    await solver.start()
    yield solver
    solver.close()


class Suspender:
    """Suspends one agent from inside a placement, at most once."""

    def __init__(
        self, sessionmaker: Sessionmaker, agent_id: uuid.UUID, emit: Emit
    ) -> None:
        self.sessionmaker = sessionmaker
        self.agent_id = agent_id
        self.emit = emit
        self.task: asyncio.Task[Suspension | None] | None = None

    async def start(self) -> None:
        """Start the suspension and give it time to commit, or to block."""
        if self.task is not None:
            return
        self.task = asyncio.create_task(
            suspend_agent(
                self.sessionmaker, self.agent_id, emit=self.emit, settings=BATCHED
            )
        )
        await asyncio.sleep(SUSPENSION_HEAD_START_SECONDS)

    async def finished(self) -> Suspension | None:
        assert self.task is not None, "the placement never reached the agent"
        return await asyncio.wait_for(self.task, timeout=10)


async def _receive(
    sessionmaker: Sessionmaker,
    request: VisitRequested,
    emit: Emit,
    settings: MatchingSettings,
) -> None:
    async with sessionmaker() as session, session.begin():
        await service.accept_visit_request(
            session, request, emit=emit, settings=settings
        )


async def _count(sessionmaker: Sessionmaker, *where: Any) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).where(*where)) or 0)


async def _status(sessionmaker: Sessionmaker, agent_id: uuid.UUID) -> str:
    async with sessionmaker() as session:
        status = await session.scalar(
            select(Agent.status).where(Agent.agent_id == agent_id)
        )
    return str(status)


async def _state(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> str:
    async with sessionmaker() as session:
        state = await session.scalar(
            select(VisitRequest.state).where(VisitRequest.visit_id == visit_id)
        )
    return str(state)


async def test_suspension_during_assign_releases_it(
    sessionmaker: Sessionmaker,
    region: Region,
    emit: Emit,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent = await register(sessionmaker, region.point(east_m=300))
    request = visit_requested(region.point(), dispatch=ASSIGN)
    suspender = Suspender(sessionmaker, agent.agent_id, emit)
    reserve = repository.reserve_capacity

    async def reserve_then_suspend(*args: Any, **kwargs: Any) -> bool:
        reserved = await reserve(*args, **kwargs)
        await suspender.start()
        return reserved

    monkeypatch.setattr(dispatch.repository, "reserve_capacity", reserve_then_suspend)

    await _receive(sessionmaker, request, emit, ONE_AT_A_TIME)
    suspension = await suspender.finished()

    assert suspension is not None
    assert suspension.assignments_released == [request.visit_id]
    assert await _status(sessionmaker, agent.agent_id) == "suspended"
    active = Assignment.agent_id == agent.agent_id, Assignment.state == "active"
    assert await _count(sessionmaker, *active) == 0


async def test_suspension_during_offer_withdraws_it(
    sessionmaker: Sessionmaker,
    region: Region,
    emit: Emit,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent = await register(sessionmaker, region.point(east_m=300))
    request = visit_requested(region.point(), dispatch=OFFER)
    suspender = Suspender(sessionmaker, agent.agent_id, emit)
    insert = repository.insert_open_offer

    async def suspend_then_insert(session: AsyncSession, **values: Any) -> None:
        await suspender.start()
        await insert(session, **values)

    monkeypatch.setattr(dispatch.repository, "insert_open_offer", suspend_then_insert)

    await _receive(sessionmaker, request, emit, ONE_AT_A_TIME)
    suspension = await suspender.finished()

    assert suspension is not None
    assert suspension.offers_withdrawn == [request.visit_id]
    open_offers = Offer.agent_id == agent.agent_id, Offer.state == "offered"
    assert await _count(sessionmaker, *open_offers) == 0


async def test_batch_skips_agent_suspended_meanwhile(
    sessionmaker: Sessionmaker,
    region: Region,
    emit: Emit,
    pool: SolverPool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent = await register(sessionmaker, region.point(east_m=300))
    request = visit_requested(region.point(), dispatch=ASSIGN)
    await _receive(sessionmaker, request, emit, BATCHED)
    assert await _state(sessionmaker, request.visit_id) == "pending"
    suspender = Suspender(sessionmaker, agent.agent_id, emit)
    still_candidate = batching._still_candidate

    async def check_then_suspend(*args: Any) -> bool:
        answer = await still_candidate(*args)
        await suspender.start()
        return answer

    monkeypatch.setattr(batching, "_still_candidate", check_then_suspend)

    await batch_pending(sessionmaker, emit=emit, settings=BATCHED, solver=pool)
    suspension = await suspender.finished()

    assert suspension is not None
    assert await _status(sessionmaker, agent.agent_id) == "suspended"
    active = Assignment.agent_id == agent.agent_id, Assignment.state == "active"
    assert await _count(sessionmaker, *active) == 0
    assert await _state(sessionmaker, request.visit_id) == "pending"
