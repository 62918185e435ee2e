"""Who may get a visit: staff first, travel reach, live location, local days.

No matching app runs in this module, so no background pass dispatches the
visits at the real time: each test passes the `now` it wants.
"""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching import repository
from matching.dispatch import DispatchOutcome, Emit, dispatch
from matching.models import AgentDailyLoad, Assignment, Offer, VisitRequest
from matching.repository.agents import wkt_point
from matching.service import accept_visit_request, withdraw_visit
from matching.settings import MatchingSettings
from shared.events.payloads import (
    DispatchMode,
    DispatchPolicy,
    VisitRequested,
    VisitWithdrawn,
    WithdrawalReason,
)
from tests.integration.matching.helpers import (
    Region,
    register,
    visit_requested,
)

Sessionmaker = async_sessionmaker[AsyncSession]

MEXICO_CITY = ZoneInfo("America/Mexico_City")
SETTINGS = MatchingSettings(visiting_hours=False, batch_interval_seconds=0)
OFFER = DispatchPolicy(mode=DispatchMode.OFFER, max_wait_seconds=2 * 86400)
ASSIGN = DispatchPolicy(mode=DispatchMode.ASSIGN, max_wait_seconds=2 * 86400)
ALL_DAY = {day: [{"start": "00:00", "end": "23:59"}] for day in range(1, 8)}


def _tomorrow(hour: int, minute: int = 0) -> datetime:
    """Tomorrow at hour:minute in Mexico City (UTC-6 all year), in UTC."""
    day = datetime.now(UTC).date() + timedelta(days=1)
    return datetime.combine(day, time(hour, minute), tzinfo=MEXICO_CITY).astimezone(UTC)


async def _receive(
    sessionmaker: Sessionmaker,
    request: VisitRequested,
    emit: Emit,
    now: datetime,
    settings: MatchingSettings = SETTINGS,
) -> None:
    async with sessionmaker() as session, session.begin():
        await accept_visit_request(
            session, request, emit=emit, settings=settings, now=now
        )


async def _dispatch_at(
    sessionmaker: Sessionmaker, visit_id: uuid.UUID, emit: Emit, now: datetime
) -> DispatchOutcome:
    async with sessionmaker() as session, session.begin():
        return await dispatch(session, visit_id, emit=emit, settings=SETTINGS, now=now)


async def _offers(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> list[Any]:
    async with sessionmaker() as session:
        result = await session.execute(
            select(Offer.agent_id, Offer.distance_m, Offer.ranking)
            .where(Offer.visit_id == visit_id)
            .order_by(Offer.offered_at)
        )
        return list(result.all())


async def _offered_agents(
    sessionmaker: Sessionmaker, visit_id: uuid.UUID
) -> list[uuid.UUID]:
    return [offer.agent_id for offer in await _offers(sessionmaker, visit_id)]


async def _request(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> Any:
    async with sessionmaker() as session:
        result = await session.execute(
            select(VisitRequest).where(VisitRequest.visit_id == visit_id)
        )
        return result.scalar_one()


async def _set_schedule(
    sessionmaker: Sessionmaker, agent_id: uuid.UUID, zone: str = "America/Mexico_City"
) -> None:
    windows = [
        (day, time.fromisoformat(w["start"]), time.fromisoformat(w["end"]))
        for day, day_windows in ALL_DAY.items()
        for w in day_windows
    ]
    async with sessionmaker() as session, session.begin():
        await repository.replace_schedule(
            session, agent_id, time_zone=zone, windows=windows
        )


async def _set_columns(
    sessionmaker: Sessionmaker, agent_id: uuid.UUID, **values: Any
) -> None:
    async with sessionmaker() as session, session.begin():
        await repository.set_agent_columns(session, agent_id, **values)


async def _load(
    sessionmaker: Sessionmaker, agent_id: uuid.UUID, day: date, assigned: int
) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            insert(AgentDailyLoad).values(agent_id=agent_id, day=day, assigned=assigned)
        )


async def _assigned_on(
    sessionmaker: Sessionmaker, agent_id: uuid.UUID, day: date
) -> int:
    async with sessionmaker() as session:
        return await repository.assigned_on(session, agent_id, day)


class TestStaffFirst:
    async def test_only_staff_before_the_marketplace_opens(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        tenant = uuid.uuid4()
        await register(sessionmaker, region.point(east_m=300))
        staff = await register(
            sessionmaker, region.point(east_m=3000), employer_tenant_id=tenant
        )
        policy = OFFER.model_copy(update={"staff_first_seconds": 1800})
        request = visit_requested(region.point(), tenant_id=tenant, dispatch=policy)

        await _receive(sessionmaker, request, emit, _tomorrow(10))

        assert await _offered_agents(sessionmaker, request.visit_id) == [staff.agent_id]

    async def test_without_staff_waits_for_the_marketplace(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        platform = await register(sessionmaker, region.point(east_m=300))
        policy = OFFER.model_copy(update={"staff_first_seconds": 1800})
        request = visit_requested(region.point(), dispatch=policy)
        received = _tomorrow(10)

        await _receive(sessionmaker, request, emit, received)

        stored = await _request(sessionmaker, request.visit_id)
        assert stored.state == "pending"
        opens = received + timedelta(seconds=1800)
        assert stored.marketplace_from == opens
        async with sessionmaker() as session:
            early = await repository.due_requests(
                session, now=opens - timedelta(seconds=1), limit=10_000
            )
            due = await repository.due_requests(session, now=opens, limit=10_000)
        assert request.visit_id not in early
        assert request.visit_id in due

        outcome = await _dispatch_at(sessionmaker, request.visit_id, emit, opens)

        assert outcome == DispatchOutcome.OFFERED
        assert await _offered_agents(sessionmaker, request.visit_id) == [
            platform.agent_id
        ]
        assert (await _request(sessionmaker, request.visit_id)).marketplace_from is None

    async def test_older_policy_offers_to_everyone_at_once(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        platform = await register(sessionmaker, region.point(east_m=300))
        request = visit_requested(region.point(), dispatch=OFFER)

        await _receive(sessionmaker, request, emit, _tomorrow(10))

        assert (await _request(sessionmaker, request.visit_id)).marketplace_from is None
        assert await _offered_agents(sessionmaker, request.visit_id) == [
            platform.agent_id
        ]


class TestTravelLimit:
    async def test_walker_beyond_reach_is_skipped(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        # At 4.5 km/h a walker covers 1.5 km in 20 minutes; a motorcyclist at
        # 25 km/h covers 8.3 km.
        await register(sessionmaker, region.point(east_m=2000), travel_mode="walk")
        rider = await register(
            sessionmaker,
            region.point(east_m=4000),
            travel_mode="motorcycle",
            coverage_radius_m=8000,
        )
        request = visit_requested(region.point(), dispatch=OFFER)
        settings = MatchingSettings(visiting_hours=False, max_travel_minutes=20)

        await _receive(sessionmaker, request, emit, _tomorrow(10), settings)

        assert await _offered_agents(sessionmaker, request.visit_id) == [rider.agent_id]

    async def test_campaign_limit_is_stricter(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        # The motorcyclist 4 km away needs 9.6 minutes: within 20, not 5.
        await register(sessionmaker, region.point(east_m=4000))
        policy = OFFER.model_copy(update={"max_travel_minutes": 5})
        request = visit_requested(region.point(), dispatch=policy)
        settings = MatchingSettings(visiting_hours=False, max_travel_minutes=20)

        await _receive(sessionmaker, request, emit, _tomorrow(10), settings)

        assert await _offered_agents(sessionmaker, request.visit_id) == []
        stored = await _request(sessionmaker, request.visit_id)
        assert stored.state == "unmatched"


class TestLastLocation:
    async def test_fresh_location_replaces_the_base(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        now = _tomorrow(10)
        near_base = await register(sessionmaker, region.point(east_m=1000))
        moving = await register(sessionmaker, region.point(east_m=3000))
        beside_visit = region.point(north_m=100)
        async with sessionmaker() as session, session.begin():
            await repository.set_last_location(
                session,
                moving.agent_id,
                lat=beside_visit.lat,
                lon=beside_visit.lon,
                accuracy_m=20,
                recorded_at=now - timedelta(minutes=5),
                received_at=now - timedelta(minutes=5),
            )
        fresh = visit_requested(region.point(), dispatch=OFFER)
        stale = visit_requested(region.point(), dispatch=OFFER)

        await _receive(sessionmaker, fresh, emit, now)
        await _receive(sessionmaker, stale, emit, now + timedelta(hours=2))

        [offer] = await _offers(sessionmaker, fresh.visit_id)
        assert offer.agent_id == moving.agent_id
        assert offer.distance_m == pytest.approx(100, rel=0.05)
        assert await _offered_agents(sessionmaker, stale.visit_id) == [
            near_base.agent_id
        ]

    async def test_inaccurate_location_is_not_used(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        now = _tomorrow(10)
        near_base = await register(sessionmaker, region.point(east_m=1000))
        moving = await register(sessionmaker, region.point(east_m=3000))
        beside_visit = region.point(north_m=100)
        async with sessionmaker() as session, session.begin():
            await repository.set_last_location(
                session,
                moving.agent_id,
                lat=beside_visit.lat,
                lon=beside_visit.lon,
                accuracy_m=2000,
                recorded_at=now,
                received_at=now,
            )
        request = visit_requested(region.point(), dispatch=OFFER)

        await _receive(sessionmaker, request, emit, now)

        assert await _offered_agents(sessionmaker, request.visit_id) == [
            near_base.agent_id
        ]

    async def test_coverage_stays_judged_from_the_base(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        now = _tomorrow(10)
        away = await register(
            sessionmaker, region.point(east_m=6000), coverage_radius_m=2000
        )
        async with sessionmaker() as session, session.begin():
            await repository.set_last_location(
                session,
                away.agent_id,
                lat=region.lat,
                lon=region.lon,
                accuracy_m=10,
                recorded_at=now,
                received_at=now,
            )
        request = visit_requested(region.point(), dispatch=OFFER)

        await _receive(sessionmaker, request, emit, now)

        assert await _offered_agents(sessionmaker, request.visit_id) == []


class TestLocalDayCapacity:
    async def test_evening_counts_on_the_agents_own_day(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        # 19:00 in Mexico City is 01:00 UTC on the next day.
        now = _tomorrow(19)
        local = now.astimezone(MEXICO_CITY).date()
        assert now.date() != local
        full = await register(sessionmaker, region.point(east_m=300), daily_capacity=1)
        free = await register(sessionmaker, region.point(east_m=600), daily_capacity=1)
        for agent in (full, free):
            await _set_schedule(sessionmaker, agent.agent_id)
        await _load(sessionmaker, full.agent_id, local, 1)
        await _load(sessionmaker, free.agent_id, now.date(), 1)
        request = visit_requested(region.point(), dispatch=ASSIGN)

        await _receive(sessionmaker, request, emit, now)

        assert await _offered_agents(sessionmaker, request.visit_id) == [free.agent_id]
        assert await _assigned_on(sessionmaker, free.agent_id, local) == 1

    async def test_withdrawal_gives_back_the_day_it_took(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        now = _tomorrow(19)
        local = now.astimezone(MEXICO_CITY).date()
        agent = await register(sessionmaker, region.point(east_m=300))
        await _set_schedule(sessionmaker, agent.agent_id)
        await _load(sessionmaker, agent.agent_id, now.date(), 3)
        request = visit_requested(region.point(), dispatch=ASSIGN)
        await _receive(sessionmaker, request, emit, now)
        async with sessionmaker() as session:
            stored_day = await session.scalar(
                select(Assignment.load_day).where(
                    Assignment.visit_id == request.visit_id
                )
            )
        assert stored_day == local
        assert await _assigned_on(sessionmaker, agent.agent_id, local) == 1

        async with sessionmaker() as session, session.begin():
            await withdraw_visit(
                session,
                VisitWithdrawn(
                    tenant_id=request.tenant_id,
                    visit_id=request.visit_id,
                    campaign_id=request.campaign_id,
                    account_id=request.account_id,
                    reason=WithdrawalReason.CAMPAIGN_PAUSED,
                    withdrawn_at=now,
                ),
                emit=emit,
            )

        assert await _assigned_on(sessionmaker, agent.agent_id, local) == 0
        assert await _assigned_on(sessionmaker, agent.agent_id, now.date()) == 3

    async def test_zoneless_agent_counts_every_visit_on_one_day(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        # 21:00 in Mexico City is already the next day in UTC, and each
        # address zone reads the moment on its own day.
        now = _tomorrow(21)
        local = now.astimezone(MEXICO_CITY).date()
        agent = await register(sessionmaker, region.point(east_m=300), daily_capacity=1)
        for north_m, zone in (
            (0, "America/Mexico_City"),
            (50, None),
            (90, "America/Cancun"),
            (120, "America/Tijuana"),
        ):
            request = visit_requested(region.point(north_m=north_m), dispatch=ASSIGN)
            request = request.model_copy(update={"time_zone": zone})
            await _receive(sessionmaker, request, emit, now)

        async with sessionmaker() as session:
            days = (
                await session.scalars(
                    select(Assignment.load_day).where(
                        Assignment.agent_id == agent.agent_id,
                        Assignment.state == "active",
                    )
                )
            ).all()
        assert days == [local]


class TestOfflineScheduled:
    async def test_assign_mode_takes_a_scheduled_offline_agent(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        scheduled = await register(
            sessionmaker, region.point(east_m=300), status="offline"
        )
        await _set_schedule(sessionmaker, scheduled.agent_id)
        await register(sessionmaker, region.point(east_m=200), status="offline")
        request = visit_requested(region.point(), dispatch=ASSIGN)

        await _receive(sessionmaker, request, emit, _tomorrow(10))

        assert await _offered_agents(sessionmaker, request.visit_id) == [
            scheduled.agent_id
        ]

    @pytest.mark.parametrize("days_ahead,assigned", [(1, True), (3, False)])
    async def test_shift_must_start_before_check_in_is_due(
        self,
        sessionmaker: Sessionmaker,
        region: Region,
        emit: Emit,
        days_ahead: int,
        assigned: bool,
    ) -> None:
        # Check-in is due 48 h after the assignment; a shift three days on
        # starts after the lapse pass has taken the visit back.
        now = _tomorrow(10)
        shift_day = now.astimezone(MEXICO_CITY).date() + timedelta(days=days_ahead)
        agent = await register(sessionmaker, region.point(east_m=300), status="offline")
        async with sessionmaker() as session, session.begin():
            await repository.replace_schedule(
                session,
                agent.agent_id,
                time_zone="America/Mexico_City",
                windows=[(shift_day.isoweekday(), time(8), time(20))],
            )
        request = visit_requested(
            region.point(),
            dispatch=DispatchPolicy(mode=DispatchMode.ASSIGN, max_wait_seconds=86400),
            deadline=now + timedelta(days=5),
        )

        await _receive(sessionmaker, request, emit, now)

        expected = [agent.agent_id] if assigned else []
        assert await _offered_agents(sessionmaker, request.visit_id) == expected

    async def test_offer_mode_needs_an_online_agent(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        scheduled = await register(
            sessionmaker, region.point(east_m=300), status="offline"
        )
        await _set_schedule(sessionmaker, scheduled.agent_id)
        request = visit_requested(region.point(), dispatch=OFFER)

        await _receive(sessionmaker, request, emit, _tomorrow(10))

        assert await _offered_agents(sessionmaker, request.visit_id) == []
        assert (await _request(sessionmaker, request.visit_id)).state == "pending"


class TestWaitOverNight:
    async def test_night_does_not_use_the_wait(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        policy = OFFER.model_copy(update={"max_wait_seconds": 3600})
        request = visit_requested(region.point(), dispatch=policy).model_copy(
            update={"time_zone": "America/Mexico_City"}
        )
        on = MatchingSettings(visiting_hours=True)
        evening = _tomorrow(21, 30)

        await _receive(sessionmaker, request, emit, evening, on)

        stored = await _request(sessionmaker, request.visit_id)
        assert stored.wait_until == _tomorrow(7, 30) + timedelta(days=1)

    async def test_spring_forward_morning_counts_in_local_time(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        # Saturday 20:30 in Los Angeles (UTC-8): half an hour to 21:00, then
        # the rest from 08:00 on Sunday, which is summer time (UTC-7).
        policy = OFFER.model_copy(update={"max_wait_seconds": 3600})
        request = visit_requested(
            region.point(),
            dispatch=policy,
            deadline=datetime(2027, 3, 20, tzinfo=UTC),
        ).model_copy(update={"time_zone": "America/Los_Angeles"})
        on = MatchingSettings(visiting_hours=True)

        await _receive(
            sessionmaker, request, emit, datetime(2027, 3, 14, 4, 30, tzinfo=UTC), on
        )

        stored = await _request(sessionmaker, request.visit_id)
        assert stored.wait_until == datetime(2027, 3, 14, 15, 30, tzinfo=UTC)

    async def test_without_hours_the_wait_is_plain(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        policy = OFFER.model_copy(update={"max_wait_seconds": 3600})
        request = visit_requested(region.point(), dispatch=policy)
        evening = _tomorrow(21, 30)

        await _receive(sessionmaker, request, emit, evening)

        stored = await _request(sessionmaker, request.visit_id)
        assert stored.wait_until == evening + timedelta(hours=1)


class TestRankAfterHours:
    async def test_rank_one_can_arrive(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        # With travel weighing nothing the two new agents tie, and the lower
        # id ranks first. That one walks from 1 km: 13 minutes, past 22:00.
        agents = sorted(
            [
                await register(sessionmaker, region.point(east_m=500)),
                await register(sessionmaker, region.point(east_m=500)),
            ],
            key=lambda agent: agent.agent_id,
        )
        far = region.point(east_m=1000)
        await _set_columns(
            sessionmaker,
            agents[0].agent_id,
            base_location=wkt_point(far.lat, far.lon),
            travel_mode="walk",
        )
        request = visit_requested(region.point(), dispatch=OFFER).model_copy(
            update={"time_zone": "America/Mexico_City"}
        )
        settings = MatchingSettings(visiting_hours=True, rank_travel_weight=0)

        await _receive(sessionmaker, request, emit, _tomorrow(21, 50), settings)

        [offer] = await _offers(sessionmaker, request.visit_id)
        assert offer.agent_id == agents[1].agent_id
        assert offer.ranking["rank"] == 1
        assert offer.ranking["dropped_by_hours"] == 1
        assert offer.ranking["candidates_considered"] == 1

    async def test_nothing_dropped_in_the_day(
        self, sessionmaker: Sessionmaker, region: Region, emit: Emit
    ) -> None:
        await register(sessionmaker, region.point(east_m=500))
        request = visit_requested(region.point(), dispatch=OFFER).model_copy(
            update={"time_zone": "America/Mexico_City"}
        )
        settings = MatchingSettings(visiting_hours=True)

        await _receive(sessionmaker, request, emit, _tomorrow(12), settings)

        [offer] = await _offers(sessionmaker, request.visit_id)
        assert offer.ranking["rank"] == 1
        assert offer.ranking["dropped_by_hours"] == 0
