"""The expiry pass offers the next candidate a full timeout, however long it ran.

This module starts no matching app, so no background pass competes with the
one the test runs.
"""

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching.dispatch import Emit
from matching.expiry import expire_due
from matching.models import Offer
from matching.service import accept_visit_request
from matching.settings import MatchingSettings
from shared.events import Payload
from shared.events.payloads import DispatchMode, DispatchPolicy, OfferExpired
from tests.integration.matching.helpers import Region, register, visit_requested

TIMEOUT_SECONDS = 2
SLOW_STEP_SECONDS = 2.5


async def test_next_offer_timeout_after_slow_pass(
    sessionmaker: async_sessionmaker[AsyncSession], region: Region, emit: Emit
) -> None:
    """Give the next candidate a whole timeout even when the pass is slow.

    The pass reads the clock once, before its batch of up to 200 visits. When
    it reaches a visit after longer than the offer timeout, it makes the next
    candidate an offer that has already expired. The agent's offer list never
    shows it, and the next pass counts it as that agent's lapse. An outbox
    writer that takes 2.5 s on each `offer.expired` simulates a long batch.
    """
    first = await register(sessionmaker, region.point(east_m=300))
    second = await register(sessionmaker, region.point(east_m=900))
    policy = DispatchPolicy(
        mode=DispatchMode.OFFER,
        offer_timeout_seconds=TIMEOUT_SECONDS,
        max_wait_seconds=600,
    )
    request = visit_requested(region.point(), dispatch=policy)
    settings = MatchingSettings()
    async with sessionmaker() as session, session.begin():
        await accept_visit_request(session, request, emit=emit, settings=settings)
    await asyncio.sleep(TIMEOUT_SECONDS + 0.2)

    async def slow_emit(session: AsyncSession, payload: Payload) -> object:
        if isinstance(payload, OfferExpired):
            await asyncio.sleep(SLOW_STEP_SECONDS)
        return await emit(session, payload)

    await expire_due(sessionmaker, emit=slow_emit, settings=settings)
    after_pass = datetime.now(UTC)

    async with sessionmaker() as session:
        offers = {
            row.agent_id: row
            for row in (
                await session.execute(
                    select(Offer.agent_id, Offer.state, Offer.expires_at).where(
                        Offer.visit_id == request.visit_id
                    )
                )
            ).all()
        }
    assert offers[first.agent_id].state == "expired"
    next_offer = offers[second.agent_id]
    assert next_offer.state == "offered"
    assert next_offer.expires_at > after_pass, (
        f"the next candidate's offer expires at {next_offer.expires_at.isoformat()}, "
        f"before the pass that made it ended at {after_pass.isoformat()}"
    )
