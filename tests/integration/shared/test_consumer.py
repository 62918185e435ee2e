"""The idempotent consumer on the real broker and database.

The tests run an EventConsumer over ingest's schema, with a handler whose
effect is a row in ingest's `tenants` table, so the effect commits or rolls
back with the handled-event record exactly as in a service.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest.models import common
from shared.consumer import EventConsumer, HandledEvent, RetryLaterError
from shared.db import create_engine, create_sessionmaker
from shared.events import Envelope, topics
from shared.events.payloads import TenantCreated
from shared.kafka import create_producer, ensure_topics
from shared.settings import ServiceSettings
from tests.fixtures.apps import eventually
from tests.fixtures.events import read_events, send_envelope


def tenant_event(name: str, *, key: uuid.UUID | None = None) -> Envelope:
    payload = TenantCreated(
        tenant_id=key or uuid.uuid4(), name=name, created_at=datetime.now(UTC)
    )
    return Envelope.wrap(payload, source="/tests")


class Harness:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.gate_open = asyncio.Event()
        self.failing_names: set[str] = set()
        self.applied: list[str] = []

    async def handle(
        self, session: AsyncSession, envelope: Envelope, payload: TenantCreated
    ) -> None:
        if payload.name in self.failing_names:
            raise ValueError(f"cannot handle {payload.name}")
        if payload.name.startswith("gated") and not self.gate_open.is_set():
            raise RetryLaterError(f"{payload.name} waits for the gate")
        # The row's key is unique per event, so the name records the order.
        await session.execute(
            insert(common.tenants).values(
                tenant_id=uuid.uuid4(),
                name=payload.name,
                country="MX",
                currency="MXN",
                created_at=datetime.now(UTC),
            )
        )
        self.applied.append(payload.name)

    async def handle_batch(
        self, session: AsyncSession, events: Sequence[HandledEvent]
    ) -> None:
        for envelope, payload in events:
            await self.handle(session, envelope, payload)

    async def stored(self, name: str) -> int:
        async with self.sessionmaker() as session:
            rows = await session.scalars(
                select(common.tenants.c.name).where(common.tenants.c.name == name)
            )
            return len(list(rows))


@pytest.fixture(params=["per_event", "batch"])
async def harness(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[Harness, Callable[[Envelope], object]]]:
    """Run a consumer one event per transaction, or one batch per transaction."""
    settings = ServiceSettings(
        CONSUMER_MAX_ATTEMPTS=2, CONSUMER_RETRY_BACKOFF_SECONDS=0
    )
    await ensure_topics(settings)
    engine = create_engine(settings.database_url, pool_size=2)
    producer = create_producer(settings)
    await producer.start()
    harness = Harness(create_sessionmaker(engine))
    consumer = EventConsumer(
        group_id=f"consumer-test-{uuid.uuid4().hex[:8]}",
        streams=[topics.TENANTS],
        handlers={TenantCreated: harness.handle},
        sessionmaker=harness.sessionmaker,
        tables=common,
        producer=producer,
        settings=settings,
        batch_handler=harness.handle_batch if request.param == "batch" else None,
    )
    task = asyncio.create_task(consumer.run())

    async def send(envelope: Envelope) -> None:
        await send_envelope(producer, settings, topics.TENANTS, envelope)

    try:
        yield harness, send
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
        await engine.dispose()


class TestEventConsumer:
    async def test_redelivered_event_changes_nothing(self, harness):
        state, send = harness
        name = f"twice-{uuid.uuid4().hex[:6]}"
        key = uuid.uuid4()
        event = tenant_event(name, key=key)
        await send(event)
        await send(event)
        # The same key puts the marker behind both copies in one partition.
        marker = f"after-{uuid.uuid4().hex[:6]}"
        await send(tenant_event(marker, key=key))

        async def marker_stored() -> bool:
            return await state.stored(marker) == 1

        await eventually(marker_stored, message="events after the duplicate applied")
        assert await state.stored(name) == 1

    async def test_failing_event_goes_to_dead_letter_topic(self, harness):
        state, send = harness
        name = f"poison-{uuid.uuid4().hex[:6]}"
        state.failing_names.add(name)
        event = tenant_event(name)
        await send(event)
        marker = f"next-{uuid.uuid4().hex[:6]}"
        await send(tenant_event(marker))
        dead = await read_events(
            topics.dead_letter_topic(topics.TENANTS),
            count=1,
            where=lambda e: e.id == event.id,
        )
        assert dead[0].data["name"] == name

        async def marker_stored() -> bool:
            return await state.stored(marker) == 1

        await eventually(marker_stored, message="the consumer moved past the poison")
        assert await state.stored(name) == 0

    async def test_parked_event_keeps_key_order(self, harness):
        state, send = harness
        key = uuid.uuid4()
        first = f"gated-first-{uuid.uuid4().hex[:6]}"
        second = f"second-{uuid.uuid4().hex[:6]}"
        other = f"other-{uuid.uuid4().hex[:6]}"
        await send(tenant_event(first, key=key))
        await send(tenant_event(second, key=key))
        await send(tenant_event(other))

        async def other_stored() -> bool:
            return await state.stored(other) == 1

        await eventually(other_stored, message="an unrelated key went ahead")
        assert await state.stored(first) == 0
        assert await state.stored(second) == 0

        state.gate_open.set()

        async def both_stored() -> bool:
            return await state.stored(second) == 1

        await eventually(both_stored, message="parked events applied")
        assert state.applied.index(first) < state.applied.index(second)

    async def test_later_event_waits_behind_parked_key(self, harness):
        state, send = harness
        key = uuid.uuid4()
        first = f"gated-first-{uuid.uuid4().hex[:6]}"
        other = f"other-{uuid.uuid4().hex[:6]}"
        await send(tenant_event(first, key=key))
        await send(tenant_event(other))

        async def other_stored() -> bool:
            return await state.stored(other) == 1

        await eventually(other_stored, message="an unrelated key went ahead")
        # Sent after the first one was parked, so it comes in a later fetch.
        later = f"later-{uuid.uuid4().hex[:6]}"
        await send(tenant_event(later, key=key))
        marker = f"marker-{uuid.uuid4().hex[:6]}"
        await send(tenant_event(marker))

        async def marker_stored() -> bool:
            return await state.stored(marker) == 1

        await eventually(marker_stored, message="the consumer moved past the later")
        assert await state.stored(later) == 0

        state.gate_open.set()

        async def later_stored() -> bool:
            return await state.stored(later) == 1

        await eventually(later_stored, message="parked events applied")
        assert state.applied.index(first) < state.applied.index(later)
