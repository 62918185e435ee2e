"""The transactional outbox and the relay that publishes it.

A state change and the event that announces it are written in one
transaction (`add_event`, or `add_events` for many at once); the relay
later publishes unsent rows with an idempotent producer and marks them sent.
"""

import asyncio
import functools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import structlog
from aiokafka import AIOKafkaProducer
from sqlalchemy import (
    Insert,
    Table,
    bindparam,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.events import Envelope, Payload
from shared.settings import ServiceSettings
from shared.tables import CommonTables

log = structlog.get_logger(__name__)

RELAY_BATCH_SIZE = 500


async def add_event(
    session: AsyncSession,
    tables: CommonTables,
    payload: Payload,
    *,
    source: str,
    settings: ServiceSettings,
) -> Envelope:
    """Write an event to the outbox inside the caller's transaction."""
    envelope = Envelope.wrap(payload, source=source)
    await session.execute(
        insert(tables.outbox).values(outbox_row(envelope, payload, settings))
    )
    return envelope


class OutboxRows(NamedTuple):
    """Events' outbox rows as the bound values of `outbox_rows_insert(count)`."""

    count: int
    parameters: dict[str, Any]


def outbox_rows(
    payloads: Sequence[Payload], *, source: str, settings: ServiceSettings
) -> OutboxRows:
    """Bind the events' outbox rows to the names `outbox_rows_insert` uses."""
    parameters: dict[str, Any] = {}
    for index, payload in enumerate(payloads):
        row = outbox_row(Envelope.wrap(payload, source=source), payload, settings)
        for name, value in row.items():
            parameters[_bound_name(index, name)] = value
    return OutboxRows(len(payloads), parameters)


@functools.cache
def outbox_rows_insert(outbox: Table, count: int) -> Insert:
    """Build the INSERT of `count` outbox rows whose values are bound by name.

    Built once per table and count, so SQLAlchemy keys and compiles it
    once: a hot path then pays only for binding the values (`outbox_rows`).
    The rows take their `seq` in the order bound.
    """
    selects = [
        select(
            *[
                bindparam(_bound_name(index, name), type_=outbox.c[name].type).label(
                    name
                )
                for name in OUTBOX_COLUMNS
            ]
        )
        for index in range(count)
    ]
    source = selects[0] if count == 1 else union_all(*selects)
    return insert(outbox).from_select(list(OUTBOX_COLUMNS), source)


def _bound_name(index: int, column: str) -> str:
    return f"event{index}_{column}"


OUTBOX_COLUMNS = (
    "event_id",
    "topic",
    "key",
    "event_type",
    "source",
    "subject",
    "tenant_id",
    "event_time",
    "data",
)


def outbox_row(
    envelope: Envelope, payload: Payload, settings: ServiceSettings
) -> dict[str, Any]:
    return {
        "event_id": envelope.id,
        "topic": settings.topic(payload.topic),
        "key": envelope.subject,
        "event_type": envelope.type,
        "source": envelope.source,
        "subject": envelope.subject,
        "tenant_id": envelope.tenant_id,
        "event_time": envelope.time,
        "data": envelope.data,
    }


async def add_events(
    session: AsyncSession,
    tables: CommonTables,
    payloads: Sequence[Payload],
    *,
    source: str,
    settings: ServiceSettings,
) -> int:
    """Write many events to the outbox with one COPY, in the caller's transaction.

    The rows are the ones `add_event` writes, in the order given, so the
    relay publishes them in that order.
    """
    if not payloads:
        return 0
    outbox = tables.outbox
    records = []
    for payload in payloads:
        row = outbox_row(Envelope.wrap(payload, source=source), payload, settings)
        # COPY sends the jsonb column as text.
        row["data"] = json.dumps(row["data"])
        records.append(tuple(row[column] for column in OUTBOX_COLUMNS))
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(
        outbox.name,
        schema_name=outbox.schema,
        columns=list(OUTBOX_COLUMNS),
        records=records,
    )
    return len(records)


class OutboxRelay:
    """Publish outbox rows in insertion order and mark them sent.

    Rows are locked with FOR UPDATE SKIP LOCKED while they are sent, so two
    relays of one service never publish the same row twice.

    NOTE: a row the broker rejects for good (a message over the broker's
    size limit) is retried forever and delays the rows after it. The input
    limits on uploads and briefs keep events far below 1 MB; a dead-letter
    state for outbox rows would remove the risk. Order per key
    holds with one relay per service. A crash between the broker's ack and
    the commit publishes the batch again on restart, which is why consumers
    deduplicate by event id.
    """

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        tables: CommonTables,
        producer: AIOKafkaProducer,
        poll_interval_seconds: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._tables = tables
        self._producer = producer
        self._poll_interval = poll_interval_seconds
        self._wakeup = asyncio.Event()

    def notify(self) -> None:
        """Wake the relay now instead of at its next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            try:
                sent = await self.publish_batch()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox.publish_failed")
                sent = 0
                await asyncio.sleep(1.0)
            if sent < RELAY_BATCH_SIZE:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for
                # returns normally when the task is cancelled as the wake-up
                # comes, and the relay would miss its shutdown.
                try:
                    async with asyncio.timeout(self._poll_interval):
                        await self._wakeup.wait()
                except TimeoutError:
                    pass
                self._wakeup.clear()

    async def publish_batch(self) -> int:
        outbox = self._tables.outbox
        async with self._sessionmaker() as session, session.begin():
            rows = (
                await session.execute(
                    select(outbox)
                    .where(outbox.c.sent_at.is_(None))
                    .order_by(outbox.c.seq)
                    .limit(RELAY_BATCH_SIZE)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            futures = []
            for row in rows:
                message = Envelope(
                    id=row.event_id,
                    type=row.event_type,
                    source=row.source,
                    subject=row.subject,
                    time=row.event_time,
                    tenant_id=row.tenant_id,
                    data=row.data,
                ).to_kafka()
                key = message.key
                futures.append(
                    await self._producer.send(
                        row.topic,
                        value=message.value,
                        key=key.encode() if isinstance(key, str) else key,
                        headers=list(message.headers.items()),
                    )
                )
            await asyncio.gather(*futures)
            await session.execute(
                update(outbox)
                .where(outbox.c.seq.in_([row.seq for row in rows]))
                .values(sent_at=datetime.now(UTC))
            )
        log.debug("outbox.published", count=len(rows))
        return len(rows)
