"""Visiting hours in dispatch, with the clock set by the test.

No matching app runs in this module, so no background pass dispatches the
visits at the real time: each test calls dispatch with the `now` it wants.
"""

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching.dispatch import DispatchOutcome, Emit, dispatch
from matching.models import Offer, VisitRequest
from matching.service import accept_visit_request
from matching.settings import MatchingSettings
from shared.events.payloads import (
    DispatchMode,
    DispatchPolicy,
    VisitingHours,
    VisitRequested,
)
from tests.integration.matching.helpers import Region, register, visit_requested

Sessionmaker = async_sessionmaker[AsyncSession]

MEXICO_CITY = ZoneInfo("America/Mexico_City")

# Built at import, before the test environment turns batching off.
SETTINGS = MatchingSettings(visiting_hours=True, batch_interval_seconds=0)
# A long wait, so that the visit is still waiting when the window opens.
POLICY = DispatchPolicy(
    mode=DispatchMode.OFFER, offer_timeout_seconds=600, max_wait_seconds=2 * 86400
)


def _mexico_city(hour: int, minute: int) -> datetime:
    """Tomorrow at hour:minute in Mexico City (UTC-6 all year), in UTC."""
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    local = datetime.combine(tomorrow, time(hour, minute), tzinfo=MEXICO_CITY)
    return local.astimezone(UTC)


async def _offers(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> list:
    async with sessionmaker() as session:
        result = await session.execute(
            select(Offer.agent_id, Offer.expires_at).where(Offer.visit_id == visit_id)
        )
        return list(result.all())


async def _state(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> str | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(VisitRequest.state).where(VisitRequest.visit_id == visit_id)
        )


async def _dispatch_at(
    sessionmaker: Sessionmaker, visit_id: uuid.UUID, emit: Emit, now: datetime
) -> DispatchOutcome:
    async with sessionmaker() as session, session.begin():
        return await dispatch(session, visit_id, emit=emit, settings=SETTINGS, now=now)


def _request(
    region: Region, time_zone: str | None, policy: DispatchPolicy = POLICY
) -> VisitRequested:
    request = visit_requested(region.point(), dispatch=policy)
    return request.model_copy(update={"time_zone": time_zone})


class TestVisitingHours:
    async def test_night_request_waits_for_the_window(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        # A motorcyclist 500 m away arrives in a little over a minute.
        agent = await register(sessionmaker, region.point(east_m=500))
        request = _request(region, "America/Mexico_City")

        async with sessionmaker() as session, session.begin():
            await accept_visit_request(
                session,
                request,
                emit=emit,
                settings=SETTINGS,
                now=_mexico_city(2, 0),
            )
        assert await _offers(sessionmaker, request.visit_id) == []
        assert await _state(sessionmaker, request.visit_id) == "pending"

        # At 06:45 the offer would expire at 06:55, before the window opens.
        too_early = await _dispatch_at(
            sessionmaker, request.visit_id, emit, _mexico_city(6, 45)
        )
        assert too_early == DispatchOutcome.PENDING
        assert await _offers(sessionmaker, request.visit_id) == []

        # At 06:50 an agent setting off at the offer's expiry arrives after 07:00.
        at_opening = _mexico_city(6, 50)
        outcome = await _dispatch_at(sessionmaker, request.visit_id, emit, at_opening)

        assert outcome == DispatchOutcome.OFFERED
        [(agent_id, expires_at)] = await _offers(sessionmaker, request.visit_id)
        assert agent_id == agent.agent_id
        assert expires_at == _mexico_city(7, 0)
        assert await _state(sessionmaker, request.visit_id) == "offered"

    async def test_missing_zone_waits_for_all_mexico(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        await register(sessionmaker, region.point(east_m=500))
        request = _request(region, None)

        # 07:30 in Mexico City is 05:30 in Tijuana.
        async with sessionmaker() as session, session.begin():
            await accept_visit_request(
                session,
                request,
                emit=emit,
                settings=SETTINGS,
                now=_mexico_city(7, 30),
            )
        assert await _offers(sessionmaker, request.visit_id) == []

        # 09:00 in Mexico City is 07:00 in Tijuana.
        outcome = await _dispatch_at(
            sessionmaker, request.visit_id, emit, _mexico_city(9, 0)
        )
        assert outcome == DispatchOutcome.OFFERED
        assert len(await _offers(sessionmaker, request.visit_id)) == 1

    async def test_slow_agent_skipped_near_closing(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        # At 4.5 km/h, 1.8 km takes 24 minutes; the motorcyclist's 3 km take 7.
        await register(sessionmaker, region.point(east_m=1800), travel_mode="walk")
        rider = await register(sessionmaker, region.point(north_m=3000))
        broadcast = POLICY.model_copy(
            update={"mode": DispatchMode.BROADCAST, "broadcast_size": 2}
        )
        request = _request(region, "America/Mexico_City", broadcast)

        # Offered at 21:40 until 21:50, the walker would arrive after 22:00.
        async with sessionmaker() as session, session.begin():
            await accept_visit_request(
                session, request, emit=emit, settings=SETTINGS, now=_mexico_city(21, 40)
            )

        [(agent_id, _)] = await _offers(sessionmaker, request.visit_id)
        assert agent_id == rider.agent_id

    async def test_campaign_hours_narrow_the_window(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        await register(sessionmaker, region.point(east_m=500))
        office = VisitingHours(start=time(9), end=time(18))
        request = _request(
            region,
            "America/Mexico_City",
            POLICY.model_copy(update={"visiting_hours": office}),
        )

        # 08:00 is legal in Mexico but before the campaign's 09:00.
        async with sessionmaker() as session, session.begin():
            await accept_visit_request(
                session, request, emit=emit, settings=SETTINGS, now=_mexico_city(8, 0)
            )
        assert await _offers(sessionmaker, request.visit_id) == []

        outcome = await _dispatch_at(
            sessionmaker, request.visit_id, emit, _mexico_city(8, 55)
        )
        assert outcome == DispatchOutcome.OFFERED
