import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching.models import Assignment, VisitRequest, common
from shared.events import Envelope, topics
from shared.events.payloads import AssignmentCreated, VisitUnmatched
from shared.kafka import create_producer
from shared.settings import ServiceSettings
from tests.fixtures.apps import eventually
from tests.fixtures.events import publish, send_envelope
from tests.integration.matching.helpers import (
    Region,
    haversine_m,
    only_event,
    read_events_for,
    register,
    visit_requested,
)

Sessionmaker = async_sessionmaker[AsyncSession]


async def _assignments_of(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> list:
    async with sessionmaker() as session:
        result = await session.execute(
            select(Assignment).where(Assignment.visit_id == visit_id)
        )
        return list(result.scalars().all())


async def _request_state(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> str | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(VisitRequest.state).where(VisitRequest.visit_id == visit_id)
        )


class TestAssignment:
    async def test_nearest_covering_agent_wins(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        await register(sessionmaker, region.point(north_m=3000))
        nearest = await register(sessionmaker, region.point(east_m=1000))
        # Nearer still, but its coverage ends before the visit.
        await register(sessionmaker, region.point(north_m=-400), coverage_radius_m=300)
        request = visit_requested(region.point())

        await publish([request])
        events = await read_events_for(topics.ASSIGNMENTS, {str(request.visit_id)})

        envelope = only_event(events, request.visit_id)
        assert envelope.type == AssignmentCreated.event_type
        created = AssignmentCreated.model_validate(envelope.data)
        assert created.agent_id == nearest.agent_id
        assert created.tenant_id == request.tenant_id
        expected_m = haversine_m(region.point(east_m=1000), request.location)
        assert created.distance_m == pytest.approx(expected_m, rel=0.01)
        assert await _request_state(sessionmaker, request.visit_id) == "assigned"

    async def test_other_tenants_staff_never_assigned(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        employer, other = uuid.uuid4(), uuid.uuid4()
        staff = await register(
            sessionmaker, region.point(east_m=-300), employer_tenant_id=employer
        )
        platform = await register(sessionmaker, region.point(east_m=2500))
        for_other = visit_requested(region.point(), tenant_id=other)
        # At the staff agent's door, 300 m beyond the other visit from the
        # platform agent: even holding that visit, the platform agent would
        # add 300 m to reach it.
        for_employer = visit_requested(region.point(east_m=-300), tenant_id=employer)

        await publish([for_other, for_employer])
        events = await read_events_for(
            topics.ASSIGNMENTS, {str(for_other.visit_id), str(for_employer.visit_id)}
        )

        other_event = only_event(events, for_other.visit_id)
        employer_event = only_event(events, for_employer.visit_id)
        assert other_event.data["agent_id"] == str(platform.agent_id)
        assert employer_event.data["agent_id"] == str(staff.agent_id)

    async def test_unverified_and_offline_agents_skipped(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        await register(sessionmaker, region.point(east_m=100), verified=False)
        await register(sessionmaker, region.point(east_m=200), status="offline")
        await register(sessionmaker, region.point(east_m=300), status="suspended")
        online = await register(sessionmaker, region.point(east_m=4000))
        request = visit_requested(region.point())

        await publish([request])
        events = await read_events_for(topics.ASSIGNMENTS, {str(request.visit_id)})

        assert only_event(events, request.visit_id).data["agent_id"] == str(
            online.agent_id
        )


class TestUnmatched:
    async def test_outside_coverage_reports_nearest_distance(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        base = region.point()
        await register(sessionmaker, base, coverage_radius_m=2000)
        farther = region.point(north_m=-15_000)
        await register(sessionmaker, farther, coverage_radius_m=2000)
        where = region.point(north_m=9000, east_m=4000)
        request = visit_requested(where)

        await publish([request])
        events = await read_events_for(topics.ASSIGNMENTS, {str(request.visit_id)})

        envelope = only_event(events, request.visit_id)
        assert envelope.type == VisitUnmatched.event_type
        unmatched = VisitUnmatched.model_validate(envelope.data)
        assert unmatched.reason == "out_of_coverage"
        assert unmatched.nearest_agent_distance_m == pytest.approx(
            haversine_m(base, where), rel=0.01
        )
        assert await _request_state(sessionmaker, request.visit_id) == "unmatched"

    async def test_only_other_tenants_staff_is_out_of_coverage(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        await register(
            sessionmaker, region.point(east_m=100), employer_tenant_id=uuid.uuid4()
        )
        request = visit_requested(region.point())

        await publish([request])
        events = await read_events_for(topics.ASSIGNMENTS, {str(request.visit_id)})

        unmatched = VisitUnmatched.model_validate(
            only_event(events, request.visit_id).data
        )
        assert unmatched.reason == "out_of_coverage"
        # The staff agent 100 m away is not the nearest one for this tenant.
        distance = unmatched.nearest_agent_distance_m
        assert distance is None or distance > 50_000


class TestCapacity:
    async def test_full_agent_passes_to_next(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        near = await register(sessionmaker, region.point(east_m=300), daily_capacity=2)
        far = await register(sessionmaker, region.point(east_m=3000))
        requests = [visit_requested(region.point(north_m=i * 50)) for i in range(3)]

        await publish(requests)
        events = await read_events_for(
            topics.ASSIGNMENTS, {str(r.visit_id) for r in requests}
        )

        agents = [only_event(events, r.visit_id).data["agent_id"] for r in requests]
        assert agents.count(str(near.agent_id)) == 2
        assert agents.count(str(far.agent_id)) == 1

    async def test_full_coverage_stays_pending_until_agent(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        await register(sessionmaker, region.point(east_m=300), daily_capacity=1)
        first = visit_requested(region.point())
        second = visit_requested(region.point(north_m=100))

        await publish([first, second])
        await read_events_for(topics.ASSIGNMENTS, {str(first.visit_id)})
        await eventually(
            lambda: _request_state(sessionmaker, second.visit_id),
            message="second visit request stored",
        )
        # Several retry passes run in this time and must leave it pending.
        await asyncio.sleep(1.5)
        assert await _request_state(sessionmaker, second.visit_id) == "pending"

        newcomer = await register(sessionmaker, region.point(east_m=-800))
        events = await read_events_for(topics.ASSIGNMENTS, {str(second.visit_id)})

        assert only_event(events, second.visit_id).data["agent_id"] == str(
            newcomer.agent_id
        )

    async def test_offline_coverage_stays_pending(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        await register(sessionmaker, region.point(east_m=300), status="offline")
        request = visit_requested(region.point())

        await publish([request])
        await eventually(
            lambda: _request_state(sessionmaker, request.visit_id),
            message="visit request stored",
        )
        await asyncio.sleep(1.5)

        assert await _request_state(sessionmaker, request.visit_id) == "pending"

    async def test_pending_past_deadline_expires(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        await register(sessionmaker, region.point(east_m=300), daily_capacity=1)
        first = visit_requested(region.point())
        soon = datetime.now(UTC) + timedelta(seconds=2)
        second = visit_requested(region.point(north_m=100), deadline=soon)

        await publish([first, second])
        events = await read_events_for(
            topics.ASSIGNMENTS, {str(first.visit_id), str(second.visit_id)}
        )

        envelope = only_event(events, second.visit_id)
        assert envelope.type == VisitUnmatched.event_type
        unmatched = VisitUnmatched.model_validate(envelope.data)
        assert unmatched.reason == "expired"
        assert unmatched.decided_at >= soon
        assert await _request_state(sessionmaker, second.visit_id) == "unmatched"


class TestRedelivery:
    async def test_duplicates_produce_one_assignment(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        await register(sessionmaker, region.point(east_m=300))
        request = visit_requested(region.point())
        envelope = Envelope.wrap(request, source="/tests")
        again_with_new_id = Envelope.wrap(request, source="/tests")
        settings = ServiceSettings()
        producer = create_producer(settings)
        await producer.start()
        try:
            for copy in (envelope, envelope, again_with_new_id):
                await send_envelope(producer, settings, request.topic, copy)
        finally:
            await producer.stop()

        # All three share a key, so they land on one partition, which is read
        # in order. Once the last is handled, the two before it are too.
        await eventually(
            lambda: _handled(sessionmaker, again_with_new_id.id),
            message="the last copy handled",
        )
        assignments = await _assignments_of(sessionmaker, request.visit_id)
        assert len(assignments) == 1
        assert await _outbox_count(sessionmaker, request.visit_id) == 1
        await eventually(
            lambda: _outbox_sent(sessionmaker, request.visit_id),
            message="assignment event published",
        )
        events = await read_events_for(topics.ASSIGNMENTS, {str(request.visit_id)})
        assert len(events[str(request.visit_id)]) == 1


async def _handled(sessionmaker: Sessionmaker, event_id: uuid.UUID) -> bool:
    handled = common.handled_events
    async with sessionmaker() as session:
        found = await session.scalar(
            select(handled.c.event_id).where(handled.c.event_id == event_id)
        )
    return found is not None


async def _outbox_count(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> int:
    outbox = common.outbox
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(outbox.c.subject == str(visit_id))
        )
    return count or 0


async def _outbox_sent(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> bool:
    outbox = common.outbox
    async with sessionmaker() as session:
        unsent = await session.scalar(
            select(func.count()).where(
                outbox.c.subject == str(visit_id), outbox.c.sent_at.is_(None)
            )
        )
    return unsent == 0
