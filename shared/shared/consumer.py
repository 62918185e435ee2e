"""The idempotent consumer that every service's event handlers run in.

Contract for handlers:
- A handler receives an open session inside a transaction and the parsed
  payload. It writes its effect with that session and must not commit.
- The event id is recorded in `handled_events` in the same transaction, so
  a redelivered event finds its id there and changes nothing.
- Offsets are committed to Kafka only after the transaction commits.
- Handlers run one event at a time per consumer, in partition order, so
  events of one aggregate (one Kafka key) never race each other.
- A handler that raises is retried with backoff, then the event goes to the
  topic's dead-letter topic with the error, and its offset is committed.
  An event that cannot be decoded goes there at once.
- A handler that raises `RetryLaterError` (the event arrived before one it
  depends on, from another topic) does not hold up the partition: the event
  is parked in `deferred_events` and retried there with backoff (see
  `shared.deferred`). Later events with the same key are parked behind it,
  so one aggregate's events still apply in order.

A consumer built with a `batch_handler` applies each fetched batch (up to
`BATCH_MAX_RECORDS` records, all partitions together) in one transaction:
one statement records the batch's event ids, the batch handler writes the
effect of the new ones, and the offsets are committed once after that.
Events of one partition reach the batch handler in partition order. If any
event of the batch fails validation or the batch transaction raises, the
whole batch is rolled back and applied again one event at a time. So the
bad event is retried and dead-lettered as above, and the others still apply.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.structs import ConsumerRecord, TopicPartition
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.deferred import DeferredEvents, KeyDeferredError, RetryLaterError
from shared.events import Envelope, Payload
from shared.events.topics import dead_letter_topic
from shared.settings import ServiceSettings
from shared.tables import CommonTables

__all__ = [
    "BatchHandler",
    "EventConsumer",
    "HandledEvent",
    "Handler",
    "RetryLaterError",
]

log = structlog.get_logger(__name__)

# Records per transaction on the batch path. A bigger batch saves little
# once the per-batch statements are spread thin, and holds the tenants'
# stream counters locked for longer.
BATCH_MAX_RECORDS = 500
EVENT_MAX_RECORDS = 200
POLL_TIMEOUT_MS = 500


class HandledEvent(NamedTuple):
    envelope: Envelope
    payload: Any


Handler = Callable[[AsyncSession, Envelope, Any], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, Sequence[HandledEvent]], Awaitable[None]]


class _Fetched(NamedTuple):
    record: ConsumerRecord[bytes, bytes]
    envelope: Envelope


class _LoggingRebalanceListener(ConsumerRebalanceListener):
    def __init__(self, group_id: str) -> None:
        self._group_id = group_id

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Offsets are committed after every batch, and a batch finishes before
        # aiokafka rejoins the group, so nothing is left to commit here.
        log.info(
            "consumer.partitions_revoked", group=self._group_id, count=len(revoked)
        )

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info(
            "consumer.partitions_assigned",
            group=self._group_id,
            partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in assigned),
        )


class EventConsumer:
    """Consume a set of topics in one consumer group and dispatch by event type.

    Event types without a handler are skipped: a topic carries several types
    and each consumer handles the ones it needs.
    """

    def __init__(
        self,
        *,
        group_id: str,
        streams: list[str],
        handlers: Mapping[type[Payload], Handler],
        sessionmaker: async_sessionmaker[AsyncSession],
        tables: CommonTables,
        producer: AIOKafkaProducer,
        settings: ServiceSettings,
        after_commit: Callable[[], None] | None = None,
        batch_handler: BatchHandler | None = None,
    ) -> None:
        self.group_id = settings.topic(group_id)
        self._topics = [settings.topic(s) for s in streams]
        self._handlers = {model.event_type: (model, h) for model, h in handlers.items()}
        self._sessionmaker = sessionmaker
        self._tables = tables
        self._producer = producer
        self._settings = settings
        self._after_commit = after_commit
        self._batch_handler = batch_handler
        self._deferred = DeferredEvents(
            group_id=self.group_id,
            sessionmaker=sessionmaker,
            tables=tables,
            handle=self._handle_once,
            dead_letter=self._dead_letter,
            max_attempts=settings.consumer_max_attempts,
        )

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        consumer.subscribe(
            self._topics, listener=_LoggingRebalanceListener(self.group_id)
        )
        retries: asyncio.Task[None] | None = None
        # A consumer whose start fails half way may already have joined the
        # group. Stopping it in `finally` takes it out, because otherwise it
        # would keep partitions that no consumer reads.
        try:
            await consumer.start()
            retries = asyncio.create_task(
                self._deferred.run(), name=f"{self.group_id}.deferred"
            )
            log.info("consumer.started", group=self.group_id, topics=self._topics)
            while True:
                if retries.done():
                    # Surface a crash of the retry loop; the supervisor restarts us.
                    retries.result()
                if self._batch_handler is None:
                    await self._consume_one_by_one(consumer)
                else:
                    await self._consume_in_batches(consumer)
        finally:
            if retries is not None:
                retries.cancel()
                await asyncio.gather(retries, return_exceptions=True)
            await consumer.stop()
            log.info("consumer.stopped", group=self.group_id)

    async def _consume_one_by_one(self, consumer: AIOKafkaConsumer) -> None:
        batches = await consumer.getmany(
            timeout_ms=POLL_TIMEOUT_MS, max_records=EVENT_MAX_RECORDS
        )
        for partition, records in batches.items():
            for record in records:
                await self._process(record)
            await consumer.commit({partition: records[-1].offset + 1})

    async def _consume_in_batches(self, consumer: AIOKafkaConsumer) -> None:
        # getmany returns what is already fetched without waiting for more,
        # so a batch grows with the backlog and an idle consumer adds no delay.
        batches = await consumer.getmany(
            timeout_ms=POLL_TIMEOUT_MS, max_records=BATCH_MAX_RECORDS
        )
        if not batches:
            return
        await self.handle_records(
            [record for records in batches.values() for record in records]
        )
        await consumer.commit(
            {partition: rows[-1].offset + 1 for partition, rows in batches.items()}
        )

    async def handle_records(
        self, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> None:
        """Apply fetched records in one transaction, or one by one if that fails.

        Records of one partition must come in offset order. Undecodable ones
        are dead-lettered first. Events behind a parked event of their key
        are parked after the batch commits. A consumer without a batch
        handler applies the records one by one.
        """
        if self._batch_handler is None:
            for record in records:
                await self._process(record)
            return
        fetched = []
        for record in records:
            envelope = await self._decode(record)
            if envelope is not None and envelope.type in self._handlers:
                fetched.append(_Fetched(record, envelope))
        if not fetched:
            return
        try:
            events = [self._validated(item.envelope) for item in fetched]
        except Exception as error:
            log.warning(
                "consumer.batch_has_invalid_event",
                group=self.group_id,
                error_type=type(error).__name__,
                error=str(error)[:500],
                size=len(fetched),
            )
            await self._handle_each(fetched)
            return
        try:
            waiting = await self._handle_batch_once(fetched, events)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning(
                "consumer.batch_failed",
                group=self.group_id,
                error_type=type(error).__name__,
                error=str(error)[:500],
                size=len(fetched),
            )
            await self._handle_each(fetched)
            return
        await self._handle_each(waiting)

    def _validated(self, envelope: Envelope) -> HandledEvent:
        model, _ = self._handlers[envelope.type]
        return HandledEvent(envelope, model.model_validate(envelope.data))

    async def _handle_batch_once(
        self, fetched: Sequence[_Fetched], events: Sequence[HandledEvent]
    ) -> list[_Fetched]:
        """Apply a batch in one transaction and return the events left to park.

        An event whose key has a parked event stays out of the batch: it is
        returned so that the one-by-one path parks it behind that event.
        """
        assert self._batch_handler is not None
        async with self._sessionmaker() as session, session.begin():
            parked = await self._deferred.parked_keys(
                session, {item.envelope.subject for item in fetched}
            )
            ready = unique_by_id(
                event for event in events if event.envelope.subject not in parked
            )
            handled = await self._deferred.mark_all_handled(
                session, [event.envelope for event in ready]
            )
            new = [event for event in ready if event.envelope.id in handled]
            if len(new) < len(events):
                log.info(
                    "consumer.batch_skipped",
                    group=self.group_id,
                    size=len(events),
                    new=len(new),
                    parked_keys=len(parked),
                )
            if new:
                await self._batch_handler(session, new)
        if self._after_commit is not None:
            self._after_commit()
        return [item for item in fetched if item.envelope.subject in parked]

    async def _handle_each(self, fetched: Sequence[_Fetched]) -> None:
        for item in fetched:
            structlog.contextvars.bind_contextvars(event_id=str(item.envelope.id))
            try:
                await self._handle_with_retries(
                    item.record, item.envelope, _location(item.record)
                )
            finally:
                structlog.contextvars.unbind_contextvars("event_id")

    async def _process(self, record: ConsumerRecord[bytes, bytes]) -> None:
        envelope = await self._decode(record)
        if envelope is None or envelope.type not in self._handlers:
            return
        structlog.contextvars.bind_contextvars(event_id=str(envelope.id))
        try:
            await self._handle_with_retries(record, envelope, _location(record))
        finally:
            structlog.contextvars.unbind_contextvars("event_id")

    async def _decode(self, record: ConsumerRecord[bytes, bytes]) -> Envelope | None:
        """Parse the record's envelope, or dead-letter the record and return None."""
        try:
            envelope = Envelope.from_kafka(
                key=record.key, value=record.value or b"", headers=list(record.headers)
            )
        except Exception as error:
            log.warning(
                "consumer.undecodable_event", group=self.group_id, **_location(record)
            )
            await self._dead_letter(
                topic=record.topic,
                key=record.key,
                value=record.value,
                headers=list(record.headers),
                error=error,
                attempts=1,
                partition=record.partition,
                offset=record.offset,
            )
            return None
        return envelope

    async def _handle_with_retries(
        self,
        record: ConsumerRecord[bytes, bytes],
        envelope: Envelope,
        location: dict[str, Any],
    ) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._handle_once(envelope, check_deferred=True)
                return
            except asyncio.CancelledError:
                raise
            except (RetryLaterError, KeyDeferredError) as error:
                await self._deferred.park(
                    envelope,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    reason=str(error),
                )
                return
            except Exception as error:
                if attempt >= self._settings.consumer_max_attempts:
                    log.exception(
                        "consumer.handler_failed", attempts=attempt, **location
                    )
                    message = envelope.to_kafka()
                    await self._dead_letter(
                        topic=record.topic,
                        key=record.key,
                        value=record.value,
                        headers=list(record.headers) or list(message.headers.items()),
                        error=error,
                        attempts=attempt,
                        partition=record.partition,
                        offset=record.offset,
                    )
                    return
                log.warning(
                    "consumer.handler_retry",
                    error_type=type(error).__name__,
                    attempt=attempt,
                    **location,
                )
                await asyncio.sleep(
                    self._settings.consumer_retry_backoff_seconds * 2 ** (attempt - 1)
                )

    async def _handle_once(
        self,
        envelope: Envelope,
        *,
        check_deferred: bool,
        session_hook: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> None:
        """Apply one event in one transaction; a repeat of a handled id does nothing.

        With `check_deferred`, an event whose key has an earlier event parked
        raises KeyDeferredError, so it waits behind that one. `session_hook`
        runs in the same transaction after the effect (the deferred retry
        loop deletes the parked row there).
        """
        model, handler = self._handlers[envelope.type]
        async with self._sessionmaker() as session, session.begin():
            if check_deferred and await self._deferred.has_parked(
                session, envelope.subject
            ):
                raise KeyDeferredError(
                    f"an earlier event for {envelope.subject} is waiting"
                )
            if await self._deferred.mark_handled(session, envelope):
                await handler(session, envelope, model.model_validate(envelope.data))
            else:
                log.info("consumer.duplicate_skipped", event_type=envelope.type)
            if session_hook is not None:
                await session_hook(session)
        if self._after_commit is not None:
            self._after_commit()

    async def _dead_letter(
        self,
        *,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        error: BaseException,
        attempts: int,
        partition: int,
        offset: int,
    ) -> None:
        dlt_headers = [
            *headers,
            ("dlt_error", f"{type(error).__name__}: {error}"[:1000].encode()),
            ("dlt_group", self.group_id.encode()),
            ("dlt_topic", topic.encode()),
            ("dlt_partition", str(partition).encode()),
            ("dlt_offset", str(offset).encode()),
            ("dlt_attempts", str(attempts).encode()),
        ]
        await self._producer.send_and_wait(
            dead_letter_topic(topic), value=value, key=key, headers=dlt_headers
        )
        log.error(
            "consumer.dead_lettered",
            group=self.group_id,
            topic=topic,
            partition=partition,
            offset=offset,
            attempts=attempts,
            error_type=type(error).__name__,
            error=str(error)[:500],
        )


def unique_by_id(events: Iterable[HandledEvent]) -> list[HandledEvent]:
    """Keep the first of each event id: a repeat inside a batch is a duplicate."""
    seen: set[uuid.UUID] = set()
    unique = []
    for event in events:
        if event.envelope.id not in seen:
            seen.add(event.envelope.id)
            unique.append(event)
    return unique


def _location(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
    }
