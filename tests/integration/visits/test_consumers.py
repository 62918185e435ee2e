import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select

from ingest.tenants import CreatedTenant
from shared.events import Envelope
from shared.events.payloads import VisitUnmatched
from shared.kafka import create_producer
from shared.settings import ServiceSettings
from tests.fixtures.apps import eventually
from tests.fixtures.events import publish, send_envelope
from tests.integration.visits.helpers import (
    Sessionmaker,
    agent_headers,
    assignment_for,
    event_types,
    tenant_headers,
    visit_events,
    visit_requested,
    visit_row,
    wait_for_state,
)
from visits.models import Visit, common


class TestOnVisitRequested:
    async def test_request_then_assignment_assigned(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        request = visit_requested()
        agent_id = uuid.uuid4()
        await publish([request])
        stored = await wait_for_state(sessionmaker, request.visit_id, "requested")
        assert stored.debtor_name == request.debtor_name
        assert stored.agent_id is None

        await publish([assignment_for(request, agent_id)])
        assigned = await wait_for_state(sessionmaker, request.visit_id, "assigned")
        assert assigned.agent_id == agent_id
        assert await _parked(sessionmaker, request.visit_id) == 0
        assert assigned.assigned_at is not None
        events = await visit_events(sessionmaker, request.visit_id)
        assert event_types(events) == ["campo.visit.assigned"]
        assert events[0].data["agent_id"] == str(agent_id)
        assert events[0].tenant_id == request.tenant_id

    async def test_redelivered_request_changes_nothing(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        request = visit_requested()
        agent_id = uuid.uuid4()
        envelope = Envelope.wrap(request, source="/tests")
        settings = ServiceSettings()
        producer = create_producer(settings)
        await producer.start()
        try:
            await send_envelope(producer, settings, request.topic, envelope)
            await send_envelope(producer, settings, request.topic, envelope)
            await publish([assignment_for(request, agent_id)])
            await wait_for_state(sessionmaker, request.visit_id, "assigned")
            await send_envelope(producer, settings, request.topic, envelope)
            # A new event for the same visit, with changed data, sent last: the
            # same key keeps it behind the duplicates in one partition.
            changed = request.model_copy(update={"debtor_name": "Otra Persona"})
            marker = Envelope.wrap(changed, source="/tests")
            await send_envelope(producer, settings, request.topic, marker)
        finally:
            await producer.stop()
        await eventually(
            lambda: _handled(sessionmaker, marker.id), message="marker handled"
        )

        row = await visit_row(sessionmaker, request.visit_id)
        assert row is not None
        assert row.state == "assigned"
        assert row.agent_id == agent_id
        assert row.debtor_name == request.debtor_name
        assert await _handled(sessionmaker, envelope.id) == 1
        async with sessionmaker() as session:
            count = await session.scalar(
                select(func.count()).where(Visit.visit_id == request.visit_id)
            )
        assert count == 1


class TestOnAssignmentCreated:
    async def test_assignment_before_request_ends_assigned(
        self,
        visits: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
    ) -> None:
        request = visit_requested()
        agent_id = uuid.uuid4()
        await publish([assignment_for(request, agent_id)])

        async def waiting() -> bool:
            return await _parked(sessionmaker, request.visit_id) == 1

        await eventually(waiting, message="assignment parked until its request")
        assert await visit_row(sessionmaker, request.visit_id) is None

        await publish([request])
        assigned = await wait_for_state(sessionmaker, request.visit_id, "assigned")
        assert assigned.agent_id == agent_id
        response = await visits.get(
            f"/agent/visits/{request.visit_id}", headers=agent_headers(agent_id)
        )
        assert response.status_code == 200
        assert response.json()["state"] == "assigned"


class TestOnVisitUnmatched:
    async def test_unmatched_becomes_out_of_coverage(
        self,
        visits: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        tenant: CreatedTenant,
    ) -> None:
        request = visit_requested(tenant.tenant_id)
        unmatched = VisitUnmatched(
            tenant_id=tenant.tenant_id,
            visit_id=request.visit_id,
            nearest_agent_distance_m=12_345.6,
            decided_at=datetime.now(UTC),
        )
        await publish([request, unmatched])
        row = await wait_for_state(sessionmaker, request.visit_id, "out_of_coverage")
        assert row.state_reason == "out_of_coverage"
        assert row.nearest_agent_distance_m == 12_345.6

        response = await visits.get(
            f"/visits/{request.visit_id}", headers=tenant_headers(tenant)
        )
        assert response.status_code == 200
        assert response.json()["final"] is True
        assert response.json()["nearest_agent_distance_m"] == 12_345.6
        events = await visit_events(sessionmaker, request.visit_id)
        assert event_types(events) == ["campo.visit.out_of_coverage"]
        assert events[0].data["nearest_agent_distance_m"] == 12_345.6

    async def test_expired_reason_becomes_expired(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        request = visit_requested()
        unmatched = VisitUnmatched(
            tenant_id=request.tenant_id,
            visit_id=request.visit_id,
            reason="expired",
            nearest_agent_distance_m=None,
            decided_at=datetime.now(UTC),
        )
        await publish([request, unmatched])
        row = await wait_for_state(sessionmaker, request.visit_id, "expired")
        assert row.state_reason == "expired"
        assert row.closed_at is not None
        events = await visit_events(sessionmaker, request.visit_id)
        assert event_types(events) == ["campo.visit.expired"]

    async def test_unmatched_after_assignment_ignored(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        request = visit_requested()
        agent_id = uuid.uuid4()
        await publish([request, assignment_for(request, agent_id)])
        await wait_for_state(sessionmaker, request.visit_id, "assigned")
        unmatched = VisitUnmatched(
            tenant_id=request.tenant_id,
            visit_id=request.visit_id,
            nearest_agent_distance_m=50.0,
            decided_at=datetime.now(UTC),
        )
        [envelope] = await publish([unmatched])
        await eventually(
            lambda: _handled(sessionmaker, envelope.id), message="unmatched handled"
        )
        row = await visit_row(sessionmaker, request.visit_id)
        assert row is not None
        assert row.state == "assigned"


async def _handled(sessionmaker: Sessionmaker, event_id: uuid.UUID) -> int:
    handled = common.handled_events
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(handled.c.event_id == event_id)
        )
    return count or 0


async def _parked(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> int:
    """Count the events parked in deferred_events for the visit."""
    table = common.deferred_events
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(table).where(table.c.key == str(visit_id))
        )
    return int(count or 0)
