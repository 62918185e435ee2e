"""Campaign flows, Kafka catch-up and HTTP servers for reporting's tests.

All tests of a session share one database and one set of topics, so each
test uses a campaign (and often a tenant) of its own.
"""

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from starlette.types import ASGIApp

import ingest.app
from ingest.tenants import CreatedTenant
from shared.events import Payload
from shared.events.payloads import (
    Address,
    Brief,
    CampaignLaunched,
    GeoPoint,
    Money,
    PaymentPromise,
    PersonMet,
    PromiseMade,
    PromiseStatusChanged,
    VisitAssigned,
    VisitCheckedIn,
    VisitCompleted,
    VisitOutOfCoverage,
    VisitRequested,
)
from shared.events.topics import ALL_TOPICS
from shared.settings import ServiceSettings
from tests.fixtures.apps import eventually, running_app
from tests.fixtures.tenants import make_tenant

READ_MODEL_GROUP = "reporting.read-models"
# Far from every place where other suites put agents, so matching leaves
# these visits unmatched when its tests consume them.
NOWHERE = GeoPoint(lat=85.0, lon=0.0)


def auth(tenant: CreatedTenant) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant.api_key.key}"}


async def provision_tenant(reporting: httpx.AsyncClient) -> CreatedTenant:
    """Create a tenant through ingest and wait until reporting accepts its key."""
    async with running_app(ingest.app.create_app()):
        tenant = await make_tenant()

        async def key_accepted() -> bool:
            response = await reporting.get("/campaigns", headers=auth(tenant))
            return response.status_code == 200

        await eventually(
            key_accepted, timeout_seconds=90, message="reporting never saw the API key"
        )
    return tenant


async def wait_consumed(timeout_seconds: float = 60.0) -> None:
    """Wait until reporting's consumer group has committed every published event."""
    settings = ServiceSettings()
    group = settings.topic(READ_MODEL_GROUP)
    topics = [settings.topic(stream) for stream in ALL_TOPICS]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    await admin.start()
    try:
        partitions = [
            TopicPartition(described["topic"], partition["partition"])
            for described in await admin.describe_topics(topics)
            for partition in described["partitions"]
        ]
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout_seconds
        while True:
            committed = await admin.list_consumer_group_offsets(group)
            behind = [
                tp
                for tp, end in ends.items()
                if end > 0 and (tp not in committed or committed[tp].offset < end)
            ]
            if not behind:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"reporting did not consume {behind}")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
        await consumer.stop()


@dataclass
class CampaignFlow:
    """One campaign's events, with the figures they must produce.

    Five visits requested at t0: three completed (debtor with a promise,
    guarantor, other person after a late verified check-in), one out of
    coverage and one only assigned.
    """

    tenant_id: uuid.UUID
    campaign_id: uuid.UUID = field(default_factory=uuid.uuid4)
    t0: datetime = field(
        default_factory=lambda: (datetime.now(UTC) - timedelta(days=7)).replace(
            microsecond=0
        )
    )
    visit_ids: list[uuid.UUID] = field(
        default_factory=lambda: [uuid.uuid4() for _ in range(5)]
    )
    account_ids: list[uuid.UUID] = field(
        default_factory=lambda: [uuid.uuid4() for _ in range(5)]
    )
    agent_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def at(self, seconds: float) -> datetime:
        return self.t0 + timedelta(seconds=seconds)

    def launch(self) -> list[Payload]:
        return [
            CampaignLaunched(
                tenant_id=self.tenant_id,
                campaign_id=self.campaign_id,
                name="Cobranza norte",
                account_count=6,
                visit_count=5,
                excluded_count=1,
                deadline=self.at(14 * 86400),
                launched_at=self.t0,
            )
        ]

    def requests(self) -> list[Payload]:
        return [self.requested(index) for index in range(5)]

    def requested(self, index: int) -> VisitRequested:
        return VisitRequested(
            tenant_id=self.tenant_id,
            visit_id=self.visit_ids[index],
            campaign_id=self.campaign_id,
            account_id=self.account_ids[index],
            account_key=f"ACC-{index}",
            requested_at=self.t0,
            deadline=self.at(14 * 86400),
            fee=Money(amount=Decimal("150.00"), currency="MXN"),
            location=NOWHERE,
            address=Address(street="Calle 1", postal_code="64000"),
            debtor_name="Deudor de prueba",
            brief=Brief(objective="Cobrar", questions={}, max_discount_pct=10),
        )

    def assignments(self) -> list[Payload]:
        delays = {0: 600, 1: 1200, 2: 1800, 4: 2400}
        return [
            VisitAssigned(
                tenant_id=self.tenant_id,
                visit_id=self.visit_ids[index],
                campaign_id=self.campaign_id,
                account_id=self.account_ids[index],
                agent_id=self.agent_id,
                requested_at=self.t0,
                assigned_at=self.at(delay),
            )
            for index, delay in delays.items()
        ]

    def check_ins(self) -> list[Payload]:
        # Visit 2 first checks in unverified, then verified after 100 hours.
        plan = [(0, 3600, True), (1, 7200, True), (2, 3000, False), (2, 360000, True)]
        return [
            VisitCheckedIn(
                tenant_id=self.tenant_id,
                visit_id=self.visit_ids[index],
                campaign_id=self.campaign_id,
                agent_id=self.agent_id,
                checked_in_at=self.at(delay),
                device_time=self.at(delay),
                distance_m=20.0 if verified else 900.0,
                accuracy_m=10.0,
                verified=verified,
            )
            for index, delay, verified in plan
        ]

    def results(self) -> list[Payload]:
        promise = PaymentPromise(
            amount=Money(amount=Decimal("1500.00"), currency="MXN"),
            due_date=self.at(86400 * 10).date(),
        )
        plan: list[tuple[int, int, PersonMet, bool, PaymentPromise | None]] = [
            (0, 5400, PersonMet.DEBTOR, True, promise),
            (1, 9000, PersonMet.GUARANTOR, False, None),
            (2, 361800, PersonMet.OTHER_PERSON, True, None),
        ]
        payloads: list[Payload] = [
            VisitCompleted(
                tenant_id=self.tenant_id,
                visit_id=self.visit_ids[index],
                campaign_id=self.campaign_id,
                account_id=self.account_ids[index],
                account_key=f"ACC-{index}",
                agent_id=self.agent_id,
                submission_id=f"sub-{index}",
                completed_at=self.at(delay),
                device_time=self.at(delay),
                person_met=person,
                contact=person.is_contact,
                debtor_lives_there=lives_there,
                promise=promised,
            )
            for index, delay, person, lives_there, promised in plan
        ]
        payloads.append(
            PromiseMade(
                tenant_id=self.tenant_id,
                promise_id=uuid.uuid4(),
                visit_id=self.visit_ids[0],
                campaign_id=self.campaign_id,
                account_id=self.account_ids[0],
                amount=promise.amount,
                due_date=promise.due_date,
            )
        )
        payloads.append(
            VisitOutOfCoverage(
                tenant_id=self.tenant_id,
                visit_id=self.visit_ids[3],
                campaign_id=self.campaign_id,
                account_id=self.account_ids[3],
                nearest_agent_distance_m=42000.0,
                decided_at=self.at(5),
            )
        )
        return payloads

    def visit_events(self) -> list[Payload]:
        return [*self.assignments(), *self.check_ins(), *self.results()]

    def all_events(self) -> list[Payload]:
        return [*self.launch(), *self.requests(), *self.visit_events()]


STREAMED_PER_FLOW = 1 + 4 + 4 + 3 + 1 + 1

EXPECTED_FIGURES: dict[str, Any] = {
    "name": "Cobranza norte",
    "accounts": 6,
    "accounts_excluded": 1,
    "visits_requested": 5,
    "visits_assigned": 4,
    "visits_checked_in": 3,
    "visits_completed": 3,
    "visits_out_of_coverage": 1,
    "visits_expired": 0,
    "visits_cancelled": 0,
    "visits_final": 4,
    "visits_open": 1,
    "contact_rate": 2 / 3,
    "located_rate": 2 / 3,
    "promise_rate": 0.5,
    "promises": 1,
    "promised_amount": "1500.00",
    "currency": "MXN",
    "visited_within_72h_rate": 0.5,
    "time_to_assignment_seconds": {"p50": 1500.0, "p90": 2220.0},
    "time_to_first_visit_seconds": {"p50": 7200.0, "p90": 289440.0},
    "time_to_result_seconds": {"p50": 9000.0, "p90": 291240.0},
    "promised_by_currency": [{"currency": "MXN", "amount": "1500.00"}],
}


def assert_figures(summary: dict[str, Any], expected: dict[str, Any]) -> None:
    for name, value in expected.items():
        assert summary[name] == value, f"{name}: {summary[name]!r} != {value!r}"


@asynccontextmanager
async def serve_http(app: ASGIApp, *, lifespan: str = "off") -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan=lifespan, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(
            lambda: _started(server), timeout_seconds=10, interval_seconds=0.02
        )
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def _started(server: uvicorn.Server) -> bool:
    return server.started


def promise_status(
    flow: CampaignFlow, event: type[PromiseStatusChanged]
) -> PromiseStatusChanged:
    """Return a promise event of the flow's first visit, as visits would emit it."""
    promised = Money(amount=Decimal("1500.00"), currency="MXN")
    nothing = Money(amount=Decimal("0.00"), currency="MXN")
    status = event.event_type.removeprefix("campo.promise.")
    return event(
        tenant_id=flow.tenant_id,
        promise_id=uuid.uuid4(),
        visit_id=flow.visit_ids[0],
        campaign_id=flow.campaign_id,
        account_id=flow.account_ids[0],
        amount=promised,
        amount_paid=promised if status == "kept" else nothing,
        due_date=date(2026, 12, 11),
        status=status,
        changed_at=datetime.now(UTC),
    )
