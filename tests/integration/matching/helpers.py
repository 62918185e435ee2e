"""Places, visit requests and event reads for matching's integration tests.

Every test of one session shares the database and the topics, so each test
works in a region of its own, far from the others, and reads only the events
of its own visits.
"""

import asyncio
import itertools
import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from aiokafka import AIOKafkaConsumer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching.agents import AgentSpec, RegisteredAgent, register_agent
from matching.settings import MatchingSettings
from shared.events import Envelope
from shared.events.payloads import (
    Address,
    Brief,
    DispatchPolicy,
    GeoPoint,
    Money,
    VisitRequested,
)
from shared.settings import ServiceSettings

EARTH_MEAN_RADIUS_M = 6_371_008.8
METERS_PER_DEGREE_LATITUDE = 111_320.0

# Regions lie in the South Pacific, far from the Mexican addresses the product
# serves, and 1.5 degrees of longitude (about 128 km at 40°S) apart.
_region_numbers = itertools.count()


@dataclass(frozen=True)
class Region:
    lat: float
    lon: float

    def point(self, *, north_m: float = 0.0, east_m: float = 0.0) -> GeoPoint:
        """Return the point about `north_m` and `east_m` meters from the center."""
        lat = self.lat + north_m / METERS_PER_DEGREE_LATITUDE
        meters_per_degree_lon = METERS_PER_DEGREE_LATITUDE * math.cos(
            math.radians(self.lat)
        )
        return GeoPoint(lat=lat, lon=self.lon + east_m / meters_per_degree_lon)


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header that carries an agent token."""
    return {"Authorization": f"Bearer {token}"}


def new_region() -> Region:
    number = next(_region_numbers)
    return Region(lat=-40.0 - (number // 20) * 1.5, lon=-120.0 + (number % 20) * 1.5)


def haversine_m(a: GeoPoint, b: GeoPoint) -> float:
    """Return the great-circle distance in meters on a sphere of the mean radius."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = (
        math.sin(dlat / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    )
    return 2 * EARTH_MEAN_RADIUS_M * math.asin(math.sqrt(h))


async def register(
    sessionmaker: async_sessionmaker[AsyncSession],
    where: GeoPoint,
    **fields: object,
) -> RegisteredAgent:
    spec = AgentSpec(
        name=f"Agent {uuid.uuid4().hex[:6]}",
        phone="+525512345678",
        lat=where.lat,
        lon=where.lon,
        **fields,
    )
    async with sessionmaker() as session, session.begin():
        return await register_agent(session, spec, settings=MatchingSettings())


def visit_requested(
    where: GeoPoint,
    *,
    tenant_id: uuid.UUID | None = None,
    deadline: datetime | None = None,
    visit_id: uuid.UUID | None = None,
    dispatch: DispatchPolicy | None = None,
) -> VisitRequested:
    now = datetime.now(UTC)
    return VisitRequested(
        tenant_id=tenant_id or uuid.uuid4(),
        visit_id=visit_id or uuid.uuid4(),
        campaign_id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        account_key=f"ACC-{uuid.uuid4().hex[:8]}",
        requested_at=now,
        deadline=deadline or now + timedelta(days=3),
        fee=Money(amount=Decimal("85.00"), currency="MXN"),
        location=where,
        address=Address(
            street="Calle Falsa",
            exterior_number="123",
            colonia="Centro",
            municipality="Cuauhtémoc",
            state="Ciudad de México",
            postal_code="06000",
        ),
        debtor_name="Debtor Example",
        phone="+525598765432",
        brief=Brief(
            objective="Confirm the address and ask for a payment date.",
            questions={"type": "object", "properties": {}},
            max_discount_pct=Decimal("10"),
        ),
        dispatch=dispatch,
    )


async def read_events_for(
    stream: str,
    subjects: set[str],
    *,
    timeout_seconds: float = 30.0,
) -> dict[str, list[Envelope]]:
    """Read a topic from the start until every subject has an event.

    Reading goes on to the end of the topic as it was at that moment, so the
    lists also hold any later duplicates already published.
    """
    settings = ServiceSettings()
    consumer = AIOKafkaConsumer(
        settings.topic(stream),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found: dict[str, list[Envelope]] = defaultdict(list)
    try:
        async with asyncio.timeout(timeout_seconds):
            while True:
                batches = await consumer.getmany(timeout_ms=300)
                for records in batches.values():
                    for record in records:
                        envelope = Envelope.from_kafka(
                            key=record.key,
                            value=record.value or b"",
                            headers=list(record.headers),
                        )
                        if envelope.subject in subjects:
                            found[envelope.subject].append(envelope)
                if subjects <= found.keys() and await _at_end(consumer):
                    return dict(found)
    finally:
        await consumer.stop()


async def _at_end(consumer: AIOKafkaConsumer) -> bool:
    partitions = consumer.assignment()
    if not partitions:
        return False
    ends = await consumer.end_offsets(list(partitions))
    for partition in partitions:
        if await consumer.position(partition) < ends[partition]:
            return False
    return True


def only_event(events: dict[str, list[Envelope]], visit_id: uuid.UUID) -> Envelope:
    envelopes = events[str(visit_id)]
    assert len(envelopes) == 1, f"{len(envelopes)} events for visit {visit_id}"
    return envelopes[0]
