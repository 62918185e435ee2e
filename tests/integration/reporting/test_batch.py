"""The consumer's batch path: one transaction and set-based writes per batch.

Each test hands the reporting consumer a batch of records built here, as
`getmany` would return them, and reads the rows it wrote. The events use
tenants of their own, so the stream sequences start at 1. A batch that fell
back to one event at a time would still write the right rows, so the tests
also check that the batch itself committed, unless they expect a fallback.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI
from sqlalchemy import func, select

from reporting.consumers import CONSUMER_GROUP, HANDLERS, apply_batch
from reporting.fanout import webhook_msg_id
from reporting.models import (
    SUBSCRIPTION_ENABLED,
    StreamEvent,
    VisitFact,
    WebhookDelivery,
    WebhookMessage,
    WebhookSubscription,
    common,
)
from shared.consumer import EventConsumer
from shared.events import Envelope, Payload, topics
from shared.events.payloads import (
    Money,
    PersonMet,
    PromiseBroken,
    PromiseKept,
    VisitAssigned,
    VisitCheckedIn,
    VisitCompleted,
)
from shared.runtime import ServiceRuntime
from tests.fixtures.events import read_events

T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


class Batch:
    """Envelopes turned into the records of one fetched batch."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.offset = 0

    def records(
        self, envelopes: Sequence[Envelope]
    ) -> list[ConsumerRecord[bytes, bytes]]:
        return [self.record(envelope) for envelope in envelopes]

    def record(self, envelope: Envelope) -> ConsumerRecord[bytes, bytes]:
        message = envelope.to_kafka()
        key = message.key.encode() if isinstance(message.key, str) else message.key
        self.offset += 1
        return ConsumerRecord(
            topic=self.runtime.settings.topic(topics.VISITS),
            partition=0,
            offset=self.offset,
            timestamp=0,
            timestamp_type=0,
            key=key,
            value=message.value,
            checksum=None,
            serialized_key_size=len(key or b""),
            serialized_value_size=len(message.value or b""),
            headers=list(message.headers.items()),
        )


@pytest.fixture
def consumer(reporting_app: FastAPI, reporting: httpx.AsyncClient) -> EventConsumer:
    """A consumer like the live one, which gives up on an event at once."""
    runtime: ServiceRuntime = reporting_app.state.runtime
    return EventConsumer(
        group_id=f"{runtime.name}.{CONSUMER_GROUP}",
        streams=[topics.VISITS],
        handlers=HANDLERS,
        sessionmaker=runtime.sessionmaker,
        tables=common,
        producer=runtime.producer,
        settings=runtime.settings.model_copy(
            update={"consumer_max_attempts": 1, "consumer_retry_backoff_seconds": 0}
        ),
        batch_handler=apply_batch,
    )


@pytest.fixture
def batch(reporting_app: FastAPI) -> Batch:
    return Batch(reporting_app.state.runtime)


def wrap(payload: Payload) -> Envelope:
    return Envelope.wrap(payload, source="/tests")


def completed(
    tenant_id: uuid.UUID, visit_id: uuid.UUID | None = None, **changes: Any
) -> VisitCompleted:
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "visit_id": visit_id or uuid.uuid4(),
        "campaign_id": uuid.uuid4(),
        "account_id": uuid.uuid4(),
        "account_key": "ACC-1",
        "agent_id": uuid.uuid4(),
        "submission_id": "sub-1",
        "completed_at": T0,
        "device_time": T0,
        "person_met": PersonMet.DEBTOR,
        "contact": True,
        "debtor_lives_there": True,
    }
    return VisitCompleted(**(values | changes))


def assigned(
    tenant_id: uuid.UUID, visit_id: uuid.UUID, agent_id: uuid.UUID
) -> VisitAssigned:
    return VisitAssigned(
        tenant_id=tenant_id,
        visit_id=visit_id,
        campaign_id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        agent_id=agent_id,
        requested_at=T0,
        assigned_at=T0 + timedelta(minutes=10),
    )


def checked_in(
    tenant_id: uuid.UUID, visit_id: uuid.UUID, at: datetime
) -> VisitCheckedIn:
    return VisitCheckedIn(
        tenant_id=tenant_id,
        visit_id=visit_id,
        campaign_id=uuid.uuid4(),
        agent_id=uuid.uuid4(),
        checked_in_at=at,
        device_time=at,
        distance_m=20.0,
        accuracy_m=10.0,
        verified=True,
    )


def promise_status(
    model: type[PromiseKept] | type[PromiseBroken],
    tenant_id: uuid.UUID,
    visit_id: uuid.UUID,
    status: str,
    paid: str,
) -> Payload:
    return model(
        tenant_id=tenant_id,
        promise_id=uuid.uuid4(),
        visit_id=visit_id,
        campaign_id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        amount=Money(amount=Decimal("500.00"), currency="MXN"),
        amount_paid=Money(amount=Decimal(paid), currency="MXN"),
        due_date=T0.date(),
        status=status,
        changed_at=T0 + timedelta(days=3),
    )


async def subscribe(runtime: ServiceRuntime, tenant_id: uuid.UUID) -> None:
    """Subscribe the tenant to visit.completed, at a port nothing listens on."""
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            WebhookSubscription(
                subscription_id=uuid.uuid4(),
                tenant_id=tenant_id,
                url="http://127.0.0.1:9/batch-test",
                event_types=["visit.completed"],
                secret="whsec_" + uuid.uuid4().hex,
                state=SUBSCRIPTION_ENABLED,
            )
        )


async def stream_of(runtime: ServiceRuntime, tenant_id: uuid.UUID) -> list[Any]:
    async with runtime.sessionmaker() as session:
        rows = await session.execute(
            select(StreamEvent.seq, StreamEvent.event_id)
            .where(StreamEvent.tenant_id == tenant_id)
            .order_by(StreamEvent.seq)
        )
        return [tuple(row) for row in rows.all()]


async def webhook_rows(runtime: ServiceRuntime, event_id: uuid.UUID) -> tuple[int, int]:
    """Count the event's webhook messages and deliveries."""
    msg_id = webhook_msg_id(event_id)
    async with runtime.sessionmaker() as session:
        messages = await session.scalar(
            select(func.count()).where(WebhookMessage.msg_id == msg_id)
        )
        deliveries = await session.scalar(
            select(func.count()).where(WebhookDelivery.msg_id == msg_id)
        )
    return int(messages or 0), int(deliveries or 0)


async def fact(runtime: ServiceRuntime, visit_id: uuid.UUID) -> VisitFact | None:
    async with runtime.sessionmaker() as session:
        return await session.get(VisitFact, visit_id)


def batch_events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    return [
        record.msg
        for record in caplog.records
        if isinstance(record.msg, dict) and record.msg.get("event") == name
    ]


def assert_no_fallback(caplog: pytest.LogCaptureFixture) -> None:
    assert batch_events(caplog, "consumer.batch_failed") == []
    assert batch_events(caplog, "consumer.batch_has_invalid_event") == []


class TestBatchPath:
    async def test_mixed_tenants_numbered_in_order(
        self,
        consumer: EventConsumer,
        batch: Batch,
        reporting_app: FastAPI,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        runtime: ServiceRuntime = reporting_app.state.runtime
        first, second = uuid.uuid4(), uuid.uuid4()
        await subscribe(runtime, first)
        events = [
            wrap(completed(first)),
            wrap(completed(second)),
            wrap(completed(first)),
            wrap(completed(second)),
            wrap(completed(first)),
        ]

        await consumer.handle_records(batch.records(events[:4]))
        await consumer.handle_records(batch.records(events[4:]))

        assert_no_fallback(caplog)
        assert await stream_of(runtime, first) == [
            (1, events[0].id),
            (2, events[2].id),
            (3, events[4].id),
        ]
        assert await stream_of(runtime, second) == [
            (1, events[1].id),
            (2, events[3].id),
        ]
        # Only the first tenant subscribed.
        assert [await webhook_rows(runtime, e.id) for e in events] == [
            (1, 1),
            (0, 0),
            (1, 1),
            (0, 0),
            (1, 1),
        ]
        for envelope in events:
            row = await fact(runtime, uuid.UUID(envelope.data["visit_id"]))
            assert row is not None
            assert row.tenant_id == envelope.tenant_id
            assert row.completed_at == T0

    async def test_same_visit_merges_in_order(
        self,
        consumer: EventConsumer,
        batch: Batch,
        reporting_app: FastAPI,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        runtime: ServiceRuntime = reporting_app.state.runtime
        tenant_id, visit_id = uuid.uuid4(), uuid.uuid4()
        first_agent, second_agent = uuid.uuid4(), uuid.uuid4()
        # Both assignments and both promise statuses carry the same time, so
        # only the order they are applied in decides which one stays.
        events = [
            wrap(assigned(tenant_id, visit_id, first_agent)),
            wrap(checked_in(tenant_id, visit_id, T0 + timedelta(hours=2))),
            wrap(promise_status(PromiseKept, tenant_id, visit_id, "kept", "500.00")),
            wrap(assigned(tenant_id, visit_id, second_agent)),
            wrap(checked_in(tenant_id, visit_id, T0 + timedelta(hours=1))),
            wrap(completed(tenant_id, visit_id)),
            wrap(promise_status(PromiseBroken, tenant_id, visit_id, "broken", "0")),
        ]

        await consumer.handle_records(batch.records(events))

        assert_no_fallback(caplog)
        row = await fact(runtime, visit_id)
        assert row is not None
        assert row.agent_id == second_agent
        assert row.first_check_in_at == T0 + timedelta(hours=1)
        assert row.completed_at == T0
        assert (row.promise_status, row.promise_amount_paid) == ("broken", 0)
        streamed = await stream_of(runtime, tenant_id)
        assert streamed == [(seq, e.id) for seq, e in enumerate(events, start=1)]

    async def test_duplicates_apply_once(
        self,
        consumer: EventConsumer,
        batch: Batch,
        reporting_app: FastAPI,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        runtime: ServiceRuntime = reporting_app.state.runtime
        tenant_id = uuid.uuid4()
        await subscribe(runtime, tenant_id)
        first, second, third = (wrap(completed(tenant_id)) for _ in range(3))

        await consumer.handle_records(batch.records([first, second, first]))
        await consumer.handle_records(batch.records([second, third, first]))

        assert_no_fallback(caplog)
        assert await stream_of(runtime, tenant_id) == [
            (1, first.id),
            (2, second.id),
            (3, third.id),
        ]
        for envelope in (first, second, third):
            assert await webhook_rows(runtime, envelope.id) == (1, 1)

    @pytest.mark.parametrize("poison", ["invalid", "raises"])
    async def test_poison_event_dead_lettered(
        self,
        consumer: EventConsumer,
        batch: Batch,
        reporting_app: FastAPI,
        caplog: pytest.LogCaptureFixture,
        poison: str,
    ) -> None:
        runtime: ServiceRuntime = reporting_app.state.runtime
        tenant_id = uuid.uuid4()
        before, after = wrap(completed(tenant_id)), wrap(completed(tenant_id))
        if poison == "invalid":
            bad = wrap(completed(tenant_id))
            bad = Envelope.from_json(bad.to_json() | {"data": {"visit_id": "none"}})
        else:
            # Longer than the column: the insert fails on every attempt.
            bad = wrap(completed(tenant_id, result_code="x" * 150))

        await consumer.handle_records(batch.records([before, bad, after]))

        assert len(batch_events(caplog, "consumer.dead_lettered")) == 1
        dead = await read_events(
            topics.dead_letter_topic(topics.VISITS),
            count=1,
            where=lambda envelope: envelope.id == bad.id,
        )
        assert dead[0].id == bad.id
        assert await stream_of(runtime, tenant_id) == [(1, before.id), (2, after.id)]
        assert await fact(runtime, uuid.UUID(before.data["visit_id"])) is not None
        assert await fact(runtime, uuid.UUID(after.data["visit_id"])) is not None
