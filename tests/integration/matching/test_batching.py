"""The batch pass on the real database: steals avoided, capacity, offers, limits.

Each test calls the pass directly. The pass reads every pending request of
the database, so it may also place the leftovers of other tests, far away in
their own regions. The assertions look only at the test's own visits.
"""

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching import offers, service
from matching.agents import RegisteredAgent
from matching.batch import min_cost_flow
from matching.batching import batch_pending, place_batch, read_batch
from matching.dispatch import DispatchOutcome, Emit, retry_pending
from matching.models import Agent, AgentDailyLoad, Assignment, Offer, VisitRequest
from matching.schemas import DeclineIn
from matching.settings import MatchingSettings
from matching.solver_pool import SolverPool
from shared.events.payloads import (
    DispatchMode,
    DispatchPolicy,
    VisitRequested,
    VisitWithdrawn,
    WithdrawalReason,
)
from tests.fixtures.solvers import SLOW_SOLVE_SECONDS, slow_min_cost_flow
from tests.integration.matching.helpers import (
    Region,
    new_region,
    register,
    visit_requested,
)

Sessionmaker = async_sessionmaker[AsyncSession]

ASSIGN = DispatchPolicy(mode=DispatchMode.ASSIGN)
OFFER = DispatchPolicy(mode=DispatchMode.OFFER, offer_timeout_seconds=600)
MEXICO_CITY = ZoneInfo("America/Mexico_City")


@pytest.fixture
def one_at_a_time() -> MatchingSettings:
    return MatchingSettings(batch_interval_seconds=0)


@pytest.fixture
def batched() -> MatchingSettings:
    return MatchingSettings(batch_interval_seconds=30)


@pytest_asyncio.fixture(scope="module")
async def pool() -> AsyncIterator[SolverPool]:
    pool = SolverPool(time_limit_seconds=5)
    await pool.start()
    yield pool
    pool.close()


@dataclass(frozen=True)
class StealScene:
    """X is nearest to both visits, and Y covers only A. Each takes one visit."""

    a: VisitRequested
    b: VisitRequested
    x: RegisteredAgent
    y: RegisteredAgent


async def _steal_scene(sessionmaker: Sessionmaker, region: Region) -> StealScene:
    x = await register(
        sessionmaker, region.point(east_m=900), coverage_radius_m=5000, daily_capacity=1
    )
    y = await register(
        sessionmaker,
        region.point(east_m=-1500),
        coverage_radius_m=2000,
        daily_capacity=1,
    )
    a = visit_requested(region.point(), dispatch=ASSIGN)
    b = visit_requested(region.point(east_m=2000), dispatch=ASSIGN)
    return StealScene(a=a, b=b, x=x, y=y)


async def _receive(
    sessionmaker: Sessionmaker,
    request: VisitRequested,
    *,
    emit: Emit,
    settings: MatchingSettings,
) -> None:
    async with sessionmaker() as session, session.begin():
        await service.accept_visit_request(
            session, request, emit=emit, settings=settings
        )


async def _batch_pass(
    sessionmaker: Sessionmaker,
    *,
    emit: Emit,
    settings: MatchingSettings,
    pool: SolverPool,
    now: datetime | None = None,
) -> None:
    await batch_pending(
        sessionmaker, emit=emit, settings=settings, solver=pool, now=now
    )


async def _holder(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> uuid.UUID | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(Assignment.agent_id).where(
                Assignment.visit_id == visit_id, Assignment.state == "active"
            )
        )


async def _state(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> str | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(VisitRequest.state).where(VisitRequest.visit_id == visit_id)
        )


async def _offers(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> list[Any]:
    async with sessionmaker() as session:
        result = await session.execute(
            select(Offer.offer_id, Offer.agent_id, Offer.state, Offer.ranking)
            .where(Offer.visit_id == visit_id)
            .order_by(Offer.offered_at)
        )
        return list(result.all())


async def _load(sessionmaker: Sessionmaker, agent_id: uuid.UUID) -> int:
    async with sessionmaker() as session:
        assigned = await session.scalar(
            select(func.sum(AgentDailyLoad.assigned)).where(
                AgentDailyLoad.agent_id == agent_id
            )
        )
    return int(assigned or 0)


async def _active_assignments(sessionmaker: Sessionmaker, agent_id: uuid.UUID) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(
                Assignment.agent_id == agent_id, Assignment.state == "active"
            )
        )
    return count or 0


async def _decline(
    sessionmaker: Sessionmaker,
    agent: RegisteredAgent,
    offer_id: uuid.UUID,
    *,
    emit: Emit,
    settings: MatchingSettings,
) -> None:
    async with sessionmaker() as session:
        await offers.decline_offer(
            session,
            agent_id=agent.agent_id,
            offer_id=offer_id,
            answer=DeclineIn(reason="too_far"),
            emit=emit,
            settings=settings,
        )


async def _withdraw(
    sessionmaker: Sessionmaker, request: VisitRequested, emit: Emit
) -> None:
    async with sessionmaker() as session, session.begin():
        await service.withdraw_visit(
            session,
            VisitWithdrawn(
                tenant_id=request.tenant_id,
                visit_id=request.visit_id,
                campaign_id=request.campaign_id,
                account_id=request.account_id,
                reason=WithdrawalReason.ACCOUNT_RECALLED,
                withdrawn_at=datetime.now(UTC),
            ),
            emit=emit,
        )


async def _set_status(
    sessionmaker: Sessionmaker, agent_id: uuid.UUID, status: str
) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Agent).where(Agent.agent_id == agent_id).values(status=status)
        )


class TestStealAvoided:
    async def test_one_at_a_time_lets_a_steal_x(
        self,
        sessionmaker: Sessionmaker,
        emit: Emit,
        one_at_a_time: MatchingSettings,
        region: Region,
    ) -> None:
        scene = await _steal_scene(sessionmaker, region)

        for request in (scene.a, scene.b):
            await _receive(sessionmaker, request, emit=emit, settings=one_at_a_time)

        assert await _holder(sessionmaker, scene.a.visit_id) == scene.x.agent_id
        assert await _holder(sessionmaker, scene.b.visit_id) is None
        assert await _state(sessionmaker, scene.b.visit_id) == "pending"

    async def test_batch_assigns_both_visits(
        self,
        sessionmaker: Sessionmaker,
        emit: Emit,
        batched: MatchingSettings,
        pool: SolverPool,
        region: Region,
    ) -> None:
        scene = await _steal_scene(sessionmaker, region)
        for request in (scene.a, scene.b):
            await _receive(sessionmaker, request, emit=emit, settings=batched)
        assert await _state(sessionmaker, scene.a.visit_id) == "pending"
        assert await _state(sessionmaker, scene.b.visit_id) == "pending"

        await _batch_pass(sessionmaker, emit=emit, settings=batched, pool=pool)

        assert await _holder(sessionmaker, scene.a.visit_id) == scene.y.agent_id
        assert await _holder(sessionmaker, scene.b.visit_id) == scene.x.agent_id

    async def test_offer_explains_batch(
        self,
        sessionmaker: Sessionmaker,
        emit: Emit,
        batched: MatchingSettings,
        pool: SolverPool,
        region: Region,
    ) -> None:
        scene = await _steal_scene(sessionmaker, region)
        for request in (scene.a, scene.b):
            await _receive(sessionmaker, request, emit=emit, settings=batched)

        await _batch_pass(sessionmaker, emit=emit, settings=batched, pool=pool)

        [offer] = await _offers(sessionmaker, scene.a.visit_id)
        assert offer.state == "accepted"
        # Y is A's second candidate: the batch gave X to B.
        assert offer.ranking["rank"] == 2
        assert offer.ranking["candidates_considered"] == 2
        assert offer.ranking["batch"]["solver"] == "min_cost_flow"
        assert offer.ranking["batch"]["fallback"] is None
        assert offer.ranking["batch"]["size"] >= 2


class TestInfeasibleBatch:
    async def test_capacity_limits_then_next_pass(
        self,
        sessionmaker: Sessionmaker,
        emit: Emit,
        batched: MatchingSettings,
        pool: SolverPool,
        region: Region,
    ) -> None:
        agent = await register(sessionmaker, region.point(), daily_capacity=2)
        requests = [
            visit_requested(region.point(north_m=100 * n), dispatch=ASSIGN)
            for n in range(3)
        ]
        for request in requests:
            await _receive(sessionmaker, request, emit=emit, settings=batched)

        await _batch_pass(sessionmaker, emit=emit, settings=batched, pool=pool)

        holders = [await _holder(sessionmaker, r.visit_id) for r in requests]
        assert holders.count(agent.agent_id) == 2
        [queued] = [r for r, h in zip(requests, holders, strict=True) if h is None]
        assert await _state(sessionmaker, queued.visit_id) == "pending"
        assert await _load(sessionmaker, agent.agent_id) == 2

        # A pass while the agent is still full changes nothing.
        await _batch_pass(sessionmaker, emit=emit, settings=batched, pool=pool)
        assert await _state(sessionmaker, queued.visit_id) == "pending"
        assert await _load(sessionmaker, agent.agent_id) == 2

        assigned = next(r for r in requests if r is not queued)
        await _withdraw(sessionmaker, assigned, emit)
        assert await _load(sessionmaker, agent.agent_id) == 1
        await _batch_pass(sessionmaker, emit=emit, settings=batched, pool=pool)

        assert await _holder(sessionmaker, queued.visit_id) == agent.agent_id
        assert await _load(sessionmaker, agent.agent_id) == 2
        assert await _active_assignments(sessionmaker, agent.agent_id) == 2


class TestOfferMode:
    async def test_decliner_never_offered_again(
        self,
        sessionmaker: Sessionmaker,
        emit: Emit,
        batched: MatchingSettings,
        pool: SolverPool,
        region: Region,
    ) -> None:
        nearest = await register(sessionmaker, region.point(east_m=500))
        farther = await register(sessionmaker, region.point(east_m=1500))
        request = visit_requested(region.point(), dispatch=OFFER)
        await _receive(sessionmaker, request, emit=emit, settings=batched)
        assert await _offers(sessionmaker, request.visit_id) == []

        await _batch_pass(sessionmaker, emit=emit, settings=batched, pool=pool)

        [first] = await _offers(sessionmaker, request.visit_id)
        assert first.agent_id == nearest.agent_id
        assert first.state == "offered"
        assert first.ranking["batch"]["solver"] == "min_cost_flow"
        assert await _state(sessionmaker, request.visit_id) == "offered"

        await _decline(
            sessionmaker, nearest, first.offer_id, emit=emit, settings=batched
        )
        # The decline leaves the visit to the next pass instead of offering it
        # at once.
        assert await _state(sessionmaker, request.visit_id) == "pending"
        assert len(await _offers(sessionmaker, request.visit_id)) == 1

        await _batch_pass(sessionmaker, emit=emit, settings=batched, pool=pool)

        second = (await _offers(sessionmaker, request.visit_id))[-1]
        assert second.agent_id == farther.agent_id
        assert second.state == "offered"

        await _decline(
            sessionmaker, farther, second.offer_id, emit=emit, settings=batched
        )
        await _batch_pass(sessionmaker, emit=emit, settings=batched, pool=pool)

        made = await _offers(sessionmaker, request.visit_id)
        assert [o.agent_id for o in made] == [nearest.agent_id, farther.agent_id]
        assert await _state(sessionmaker, request.visit_id) == "unmatched"


class TestTimeLimit:
    async def test_slow_solver_gives_greedy_answer(
        self,
        sessionmaker: Sessionmaker,
        emit: Emit,
        batched: MatchingSettings,
        region: Region,
    ) -> None:
        slow = SolverPool(time_limit_seconds=1, flow=slow_min_cost_flow)
        await slow.start()
        try:
            scene = await _steal_scene(sessionmaker, region)
            for request in (scene.a, scene.b):
                await _receive(sessionmaker, request, emit=emit, settings=batched)

            started = time.monotonic()
            await _batch_pass(sessionmaker, emit=emit, settings=batched, pool=slow)
            waited = time.monotonic() - started

            assert waited < SLOW_SOLVE_SECONDS / 2
            assert slow.replacements == 1
            # Greedy takes the cheapest edge first, A to X, and queues B.
            assert await _holder(sessionmaker, scene.a.visit_id) == scene.x.agent_id
            assert await _state(sessionmaker, scene.b.visit_id) == "pending"
            [offer] = await _offers(sessionmaker, scene.a.visit_id)
            assert offer.ranking["batch"]["solver"] == "greedy"
            assert offer.ranking["batch"]["fallback"] == "time_limit"

            slow.flow = min_cost_flow
            # A region of its own, away from the first scene's queued visit.
            again = await _steal_scene(sessionmaker, new_region())
            for request in (again.a, again.b):
                await _receive(sessionmaker, request, emit=emit, settings=batched)
            await _batch_pass(sessionmaker, emit=emit, settings=batched, pool=slow)

            assert await _holder(sessionmaker, again.a.visit_id) == again.y.agent_id
            assert await _holder(sessionmaker, again.b.visit_id) == again.x.agent_id
            [offer] = await _offers(sessionmaker, again.a.visit_id)
            assert offer.ranking["batch"]["solver"] == "min_cost_flow"
            assert slow.replacements == 1
        finally:
            slow.close()


class TestBroadcast:
    async def test_dispatched_on_arrival(
        self,
        sessionmaker: Sessionmaker,
        emit: Emit,
        batched: MatchingSettings,
        region: Region,
    ) -> None:
        for east_m in (300, 600, 900):
            await register(sessionmaker, region.point(east_m=east_m))
        policy = DispatchPolicy(mode=DispatchMode.BROADCAST, broadcast_size=2)
        request = visit_requested(region.point(), dispatch=policy)

        await _receive(sessionmaker, request, emit=emit, settings=batched)

        made = await _offers(sessionmaker, request.visit_id)
        assert len(made) == 2
        assert all(o.ranking["batch"] is None for o in made)
        assert await _state(sessionmaker, request.visit_id) == "offered"

    async def test_batch_pass_leaves_broadcast_waiting(
        self,
        sessionmaker: Sessionmaker,
        emit: Emit,
        batched: MatchingSettings,
        pool: SolverPool,
        region: Region,
    ) -> None:
        agent = await register(sessionmaker, region.point(), status="offline")
        policy = DispatchPolicy(mode=DispatchMode.BROADCAST, broadcast_size=2)
        request = visit_requested(region.point(), dispatch=policy)
        await _receive(sessionmaker, request, emit=emit, settings=batched)
        assert await _state(sessionmaker, request.visit_id) == "pending"
        await _set_status(sessionmaker, agent.agent_id, "online")

        await _batch_pass(sessionmaker, emit=emit, settings=batched, pool=pool)

        assert await _offers(sessionmaker, request.visit_id) == []
        assert await _state(sessionmaker, request.visit_id) == "pending"

        await retry_pending(sessionmaker, emit=emit, settings=batched)

        [offer] = await _offers(sessionmaker, request.visit_id)
        assert offer.agent_id == agent.agent_id


class TestChangesDuringPass:
    async def test_withdrawn_visit_skipped(
        self,
        sessionmaker: Sessionmaker,
        emit: Emit,
        batched: MatchingSettings,
        pool: SolverPool,
        region: Region,
    ) -> None:
        agent = await register(sessionmaker, region.point(), daily_capacity=2)
        kept, withdrawn = (
            visit_requested(region.point(north_m=n * 200), dispatch=ASSIGN)
            for n in range(2)
        )
        for request in (kept, withdrawn):
            await _receive(sessionmaker, request, emit=emit, settings=batched)

        visits = await read_batch(sessionmaker, settings=batched)
        await _withdraw(sessionmaker, withdrawn, emit)
        outcomes = await place_batch(
            sessionmaker, visits, emit=emit, settings=batched, solver=pool
        )

        assert outcomes[DispatchOutcome.SKIPPED] >= 1
        assert await _holder(sessionmaker, kept.visit_id) == agent.agent_id
        assert await _offers(sessionmaker, withdrawn.visit_id) == []
        assert await _state(sessionmaker, withdrawn.visit_id) == "cancelled"
        assert await _load(sessionmaker, agent.agent_id) == 1

    async def test_agent_gone_offline_leaves_pending(
        self,
        sessionmaker: Sessionmaker,
        emit: Emit,
        batched: MatchingSettings,
        pool: SolverPool,
        region: Region,
    ) -> None:
        agent = await register(sessionmaker, region.point())
        request = visit_requested(region.point(), dispatch=OFFER)
        await _receive(sessionmaker, request, emit=emit, settings=batched)

        visits = await read_batch(sessionmaker, settings=batched)
        await _set_status(sessionmaker, agent.agent_id, "offline")
        await place_batch(
            sessionmaker, visits, emit=emit, settings=batched, solver=pool
        )

        assert await _offers(sessionmaker, request.visit_id) == []
        assert await _state(sessionmaker, request.visit_id) == "pending"


class TestEndings:
    async def test_uncovered_visit_ends_out_of_coverage(
        self,
        sessionmaker: Sessionmaker,
        emit: Emit,
        batched: MatchingSettings,
        pool: SolverPool,
        region: Region,
    ) -> None:
        await register(sessionmaker, region.point(), coverage_radius_m=1000)
        request = visit_requested(region.point(north_m=20_000), dispatch=OFFER)
        await _receive(sessionmaker, request, emit=emit, settings=batched)
        assert await _state(sessionmaker, request.visit_id) == "pending"

        await _batch_pass(sessionmaker, emit=emit, settings=batched, pool=pool)

        assert await _state(sessionmaker, request.visit_id) == "unmatched"

    async def test_visit_past_wait_ends_out_of_coverage(
        self,
        sessionmaker: Sessionmaker,
        emit: Emit,
        batched: MatchingSettings,
        pool: SolverPool,
        region: Region,
    ) -> None:
        await register(sessionmaker, region.point(), daily_capacity=1)
        policy = OFFER.model_copy(update={"max_wait_seconds": 60})
        request = visit_requested(region.point(), dispatch=policy)
        await _receive(sessionmaker, request, emit=emit, settings=batched)

        later = datetime.now(UTC) + timedelta(minutes=5)
        await _batch_pass(
            sessionmaker, emit=emit, settings=batched, pool=pool, now=later
        )

        assert await _offers(sessionmaker, request.visit_id) == []
        assert await _state(sessionmaker, request.visit_id) == "unmatched"


class TestVisitingHours:
    async def test_offer_waits_for_legal_hours(
        self,
        sessionmaker: Sessionmaker,
        emit: Emit,
        pool: SolverPool,
        region: Region,
    ) -> None:
        settings = MatchingSettings(batch_interval_seconds=30, visiting_hours=True)
        agent = await register(sessionmaker, region.point(east_m=500))
        policy = OFFER.model_copy(update={"max_wait_seconds": 2 * 86400})
        request = visit_requested(region.point(), dispatch=policy).model_copy(
            update={"time_zone": "America/Mexico_City"}
        )
        await _receive(sessionmaker, request, emit=emit, settings=settings)

        await _batch_pass(
            sessionmaker,
            emit=emit,
            settings=settings,
            pool=pool,
            now=_mexico_city(23, 0),
        )

        assert await _offers(sessionmaker, request.visit_id) == []
        assert await _state(sessionmaker, request.visit_id) == "pending"

        await _batch_pass(
            sessionmaker,
            emit=emit,
            settings=settings,
            pool=pool,
            now=_mexico_city(8, 0),
        )

        [offer] = await _offers(sessionmaker, request.visit_id)
        assert offer.agent_id == agent.agent_id


def _mexico_city(hour: int, minute: int) -> datetime:
    """Tomorrow at hour:minute in Mexico City, in UTC."""
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    local = datetime.combine(tomorrow, datetime.min.time(), tzinfo=MEXICO_CITY)
    return local.replace(hour=hour, minute=minute).astimezone(UTC)
