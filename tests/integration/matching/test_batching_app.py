"""The batch loop and the solver pool in the running matching service."""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching.app import SOLVER_POOL, create_app
from matching.models import Offer
from matching.settings import MatchingSettings
from matching.solver_pool import SolverPool
from shared.events.payloads import DispatchMode, DispatchPolicy
from tests.fixtures.apps import eventually, running_app
from tests.fixtures.events import publish
from tests.fixtures.solvers import wait_until_gone
from tests.integration.matching.helpers import Region, register, visit_requested

Sessionmaker = async_sessionmaker[AsyncSession]


async def _offers(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> list[Any]:
    async with sessionmaker() as session:
        result = await session.execute(
            select(Offer.agent_id, Offer.ranking).where(Offer.visit_id == visit_id)
        )
        return list(result.all())


def _offers_made(
    sessionmaker: Sessionmaker, visit_id: uuid.UUID
) -> Callable[[], Awaitable[list[Any] | None]]:
    async def probe() -> list[Any] | None:
        return await _offers(sessionmaker, visit_id) or None

    return probe


class TestBatchLoop:
    async def test_service_batches_offers_not_broadcasts(
        self, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        settings = MatchingSettings(
            batch_interval_seconds=0.5,
            pending_retry_seconds=0.5,
            offer_expiry_interval_seconds=0.3,
        )
        nearest = await register(sessionmaker, region.point(east_m=300))
        await register(sessionmaker, region.point(east_m=900))
        offered = visit_requested(
            region.point(), dispatch=DispatchPolicy(mode=DispatchMode.OFFER)
        )
        broadcast = visit_requested(
            region.point(north_m=200),
            dispatch=DispatchPolicy(mode=DispatchMode.BROADCAST, broadcast_size=2),
        )
        app = create_app(settings)

        async with running_app(app):
            pool = app.state.runtime.state[SOLVER_POOL]
            assert isinstance(pool, SolverPool)
            workers = pool.worker_pids
            assert workers
            await publish([offered, broadcast])

            [offer] = await eventually(
                _offers_made(sessionmaker, offered.visit_id), message="batch offer"
            )
            broadcast_offers = await eventually(
                _offers_made(sessionmaker, broadcast.visit_id),
                message="broadcast offers",
            )

        assert offer.agent_id == nearest.agent_id
        assert offer.ranking["batch"]["solver"] == "min_cost_flow"
        assert len(broadcast_offers) == 2
        assert all(o.ranking["batch"] is None for o in broadcast_offers)
        await wait_until_gone(workers)

    async def test_no_pool_when_batching_off(self) -> None:
        app = create_app(MatchingSettings(batch_interval_seconds=0))

        async with running_app(app):
            assert SOLVER_POOL not in app.state.runtime.state
