"""Builders and probes for the visits integration tests."""

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest.tenants import CreatedTenant
from shared.auth import issue_agent_token
from shared.events import Envelope, topics
from shared.events.payloads import (
    Address,
    AssignmentCreated,
    Brief,
    DispatchPolicy,
    GeoPoint,
    LocationPrecision,
    Money,
    VisitRequested,
)
from shared.settings import ServiceSettings
from tests.fixtures.apps import eventually
from tests.fixtures.events import publish, read_events
from visits.models import Visit, common

Sessionmaker = async_sessionmaker[AsyncSession]

ZOCALO = GeoPoint(lat=19.4326, lon=-99.1332)
BALANCE = Decimal("5000.00")
QUESTIONS: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "reason": {"type": "string", "enum": ["job_loss", "illness", "other"]},
        "monthly_income": {"type": "number", "minimum": 0},
    },
    "required": ["reason"],
    "additionalProperties": False,
}
EARTH_RADIUS_M = 6_371_008.8


def visit_requested(
    tenant_id: uuid.UUID | None = None,
    *,
    location: GeoPoint = ZOCALO,
    balance: Decimal | None = BALANCE,
    questions: dict[str, Any] | None = None,
    account_id: uuid.UUID | None = None,
    time_zone: str | None = None,
    dispatch: DispatchPolicy | None = None,
    location_precision: LocationPrecision | None = None,
    location_accuracy_m: float | None = None,
) -> VisitRequested:
    now = datetime.now(UTC)
    return VisitRequested(
        location_precision=location_precision,
        location_accuracy_m=location_accuracy_m,
        tenant_id=tenant_id or uuid.uuid4(),
        visit_id=uuid.uuid4(),
        campaign_id=uuid.uuid4(),
        account_id=account_id or uuid.uuid4(),
        time_zone=time_zone,
        dispatch=dispatch,
        account_key=f"ACC-{uuid.uuid4().hex[:8]}",
        requested_at=now,
        deadline=now + timedelta(days=5),
        fee=Money(amount=Decimal("120.00"), currency="MXN"),
        location=location,
        address=Address(
            street="Plaza de la Constitución",
            exterior_number="1",
            colonia="Centro",
            municipality="Cuauhtémoc",
            state="Ciudad de México",
            postal_code="06000",
            cross_streets="5 de Mayo y Madero",
            address_references="Frente a la Catedral",
        ),
        debtor_name="Juana Pérez",
        phone="+525512345678",
        balance_overdue=(
            Money(amount=balance, currency="MXN") if balance is not None else None
        ),
        days_past_due=45,
        brief=Brief(
            objective="Confirm the address and agree a payment",
            questions=QUESTIONS if questions is None else questions,
            max_discount_pct=Decimal("15"),
        ),
    )


def assignment_for(request: VisitRequested, agent_id: uuid.UUID) -> AssignmentCreated:
    return AssignmentCreated(
        tenant_id=request.tenant_id,
        assignment_id=uuid.uuid4(),
        offer_id=uuid.uuid4(),
        visit_id=request.visit_id,
        agent_id=agent_id,
        assigned_at=datetime.now(UTC),
        distance_m=850.0,
    )


def tenant_headers(tenant: CreatedTenant) -> dict[str, str]:
    return {"X-API-Key": tenant.api_key.key}


def agent_headers(agent_id: uuid.UUID) -> dict[str, str]:
    secret = ServiceSettings().agent_token_secret.get_secret_value()
    return {"Authorization": f"Bearer {issue_agent_token(agent_id, secret=secret)}"}


def offset(point: GeoPoint, *, north_m: float, east_m: float = 0.0) -> GeoPoint:
    """Move a point by a few metres on a local flat approximation."""
    lat = point.lat + math.degrees(north_m / EARTH_RADIUS_M)
    lon = point.lon + math.degrees(
        east_m / (EARTH_RADIUS_M * math.cos(math.radians(point.lat)))
    )
    return GeoPoint(lat=lat, lon=lon)


def haversine_m(a: GeoPoint, b: GeoPoint) -> float:
    phi_a, phi_b = math.radians(a.lat), math.radians(b.lat)
    d_phi = phi_b - phi_a
    d_lambda = math.radians(b.lon - a.lon)
    h = (
        math.sin(d_phi / 2) ** 2
        + math.cos(phi_a) * math.cos(phi_b) * math.sin(d_lambda / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def check_in_body(
    point: GeoPoint = ZOCALO, *, accuracy_m: float = 10.0, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "lat": point.lat,
        "lon": point.lon,
        "accuracy_m": accuracy_m,
        "device_time": datetime.now(UTC).isoformat(),
    }
    body.update(overrides)
    return body


def result_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "submission_id": f"sub-{uuid.uuid4().hex}",
        "device_time": datetime.now(UTC).isoformat(),
        "person_met": "debtor",
        "result_code": "promise_to_pay",
        "debtor_lives_there": True,
        "promise": {
            "amount": "1500.00",
            "currency": "MXN",
            "due_date": (datetime.now(UTC).date() + timedelta(days=7)).isoformat(),
        },
        "new_phone": "+525598765432",
        "notes": "Promised to pay next week",
        "answers": {"reason": "job_loss", "monthly_income": 8000},
    }
    body.update(overrides)
    if "result_code" not in overrides:
        body["result_code"] = fitting_code(body["person_met"], body.get("promise"))
    return body


def fitting_code(person_met: str, promise: Any) -> str:
    """Return a standard result code that fits who was met and the promise."""
    if person_met in ("debtor", "guarantor"):
        return "promise_to_pay" if promise is not None else "refuses_to_pay"
    return {"other_person": "message_left", "nobody": "not_home"}.get(
        person_met, "not_home"
    )


@dataclass(frozen=True)
class AssignedVisit:
    request: VisitRequested
    agent_id: uuid.UUID
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return f"/agent/visits/{self.request.visit_id}"


async def assigned_visit(
    client: httpx.AsyncClient,
    tenant_id: uuid.UUID | None = None,
    *,
    agent_id: uuid.UUID | None = None,
    **request: Any,
) -> AssignedVisit:
    """Publish a request and its assignment and wait until the agent API returns it."""
    payload = visit_requested(tenant_id, **request)
    agent_id = agent_id or uuid.uuid4()
    await publish([payload, assignment_for(payload, agent_id)])
    agent_visit = AssignedVisit(payload, agent_id, agent_headers(agent_id))

    async def visible() -> bool:
        response = await client.get(agent_visit.path, headers=agent_visit.headers)
        return response.status_code == 200

    await eventually(visible, message=f"visit {payload.visit_id} assigned")
    return agent_visit


async def checked_in_visit(
    client: httpx.AsyncClient,
    tenant_id: uuid.UUID | None = None,
    *,
    agent_id: uuid.UUID | None = None,
    **request: Any,
) -> AssignedVisit:
    agent_visit = await assigned_visit(client, tenant_id, agent_id=agent_id, **request)
    response = await client.post(
        f"{agent_visit.path}/check-in",
        json=check_in_body(),
        headers=agent_visit.headers,
    )
    assert response.status_code == 201, response.text
    return agent_visit


async def visit_row(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> Visit | None:
    async with sessionmaker() as session:
        return await session.get(Visit, visit_id)


async def wait_for_state(
    sessionmaker: Sessionmaker, visit_id: uuid.UUID, state: str
) -> Visit:
    async def reached() -> Visit | None:
        row = await visit_row(sessionmaker, visit_id)
        return row if row is not None and row.state == state else None

    return await eventually(reached, message=f"visit {visit_id} {state}")


async def visit_events(
    sessionmaker: Sessionmaker, visit_id: uuid.UUID
) -> list[Envelope]:
    """Return every visits.v1 event about one visit, once its outbox is sent."""
    outbox = common.outbox

    async def sent() -> bool:
        async with sessionmaker() as session:
            unsent = await session.scalar(
                select(func.count()).where(
                    outbox.c.subject == str(visit_id), outbox.c.sent_at.is_(None)
                )
            )
        return unsent == 0

    await eventually(sent, message=f"outbox of visit {visit_id} sent")
    total = await _topic_size(topics.VISITS)
    events = await read_events(topics.VISITS, count=total)
    return [event for event in events if event.subject == str(visit_id)]


async def _topic_size(stream: str) -> int:
    settings = ServiceSettings()
    topic = settings.topic(stream)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [
        TopicPartition(topic, partition["partition"])
        for partition in description["partitions"]
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
    finally:
        await consumer.stop()
    return sum(ends[partition] - starts[partition] for partition in partitions)


def event_types(events: list[Envelope]) -> list[str]:
    return [event.type for event in events]
