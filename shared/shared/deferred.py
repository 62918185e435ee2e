"""Events parked until what they depend on has been handled.

Kafka orders events only inside a partition, and one service's events often
depend on another's from a different topic (an assignment can arrive before
the visit request it refers to). Blocking the partition until the other
event shows up would stall every unrelated event behind it, so the consumer
parks such an event here, commits its offset and moves on. A retry loop per
consumer group applies parked events with exponential backoff, oldest first,
and only the oldest of each key, so one aggregate's events keep their order.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import delete, exists, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.events import Envelope
from shared.tables import CommonTables

log = structlog.get_logger(__name__)

POLL_SECONDS = 1.0
BATCH_SIZE = 100
MIN_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0
# With the backoff above, about 50 minutes of waiting before the event is
# dead-lettered: far longer than any lag between two topics of one flow.
RETRY_LATER_MAX_ATTEMPTS = 60


class RetryLaterError(Exception):
    """The event depends on another one that has not been handled yet."""


class KeyDeferredError(Exception):
    """An earlier event with the same key is parked; this one waits behind it."""


class HandleOnce(Protocol):
    def __call__(
        self,
        envelope: Envelope,
        *,
        check_deferred: bool,
        session_hook: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> Awaitable[None]: ...


DeadLetter = Callable[..., Awaitable[None]]


def backoff_seconds(attempts: int) -> float:
    return min(MIN_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)


class DeferredEvents:
    def __init__(
        self,
        *,
        group_id: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        tables: CommonTables,
        handle: HandleOnce,
        dead_letter: DeadLetter,
        max_attempts: int,
    ) -> None:
        self._group_id = group_id
        self._sessionmaker = sessionmaker
        self._table = tables.deferred_events
        self._handled = tables.handled_events
        self._handle = handle
        self._dead_letter = dead_letter
        self._max_attempts = max_attempts

    async def mark_handled(self, session: AsyncSession, envelope: Envelope) -> bool:
        """Record the event id; False when this group handled it before."""
        inserted = await session.execute(
            insert(self._handled)
            .values(
                consumer_group=self._group_id,
                event_id=envelope.id,
                event_type=envelope.type,
            )
            .on_conflict_do_nothing()
            .returning(self._handled.c.event_id)
        )
        return inserted.first() is not None

    async def mark_all_handled(
        self, session: AsyncSession, envelopes: Sequence[Envelope]
    ) -> set[uuid.UUID]:
        """Record the ids in one statement and return those not handled before.

        The ids must be distinct: the caller drops repeats inside its batch.
        """
        if not envelopes:
            return set()
        rows = [
            {
                "consumer_group": self._group_id,
                "event_id": envelope.id,
                "event_type": envelope.type,
            }
            for envelope in envelopes
        ]
        inserted = await session.scalars(
            insert(self._handled)
            .on_conflict_do_nothing()
            .returning(self._handled.c.event_id),
            rows,
        )
        return set(inserted.all())

    async def parked_keys(self, session: AsyncSession, keys: set[str]) -> set[str]:
        """Return those of `keys` that have an event parked in this group."""
        if not keys:
            return set()
        rows = await session.scalars(
            select(self._table.c.key)
            .where(
                self._table.c.consumer_group == self._group_id,
                self._table.c.key.in_(keys),
            )
            .distinct()
        )
        return set(rows.all())

    async def has_parked(
        self, session: AsyncSession, key: str, *, before_seq: int | None = None
    ) -> bool:
        condition = (self._table.c.consumer_group == self._group_id) & (
            self._table.c.key == key
        )
        if before_seq is not None:
            condition &= self._table.c.seq < before_seq
        return bool(await session.scalar(select(exists().where(condition))))

    async def park(
        self,
        envelope: Envelope,
        *,
        topic: str,
        partition: int,
        offset: int,
        reason: str,
    ) -> None:
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                insert(self._table)
                .values(
                    consumer_group=self._group_id,
                    key=envelope.subject,
                    event_id=envelope.id,
                    event_type=envelope.type,
                    topic=topic,
                    partition=partition,
                    offset=offset,
                    envelope=envelope.to_json(),
                    attempts=1,
                    next_attempt_at=datetime.now(UTC)
                    + timedelta(seconds=MIN_BACKOFF_SECONDS),
                    last_error=reason[:1000],
                )
                .on_conflict_do_nothing()
            )
        log.info(
            "consumer.event_deferred",
            group=self._group_id,
            event_type=envelope.type,
            topic=topic,
            partition=partition,
            offset=offset,
            reason=reason[:200],
        )

    async def run(self) -> None:
        while True:
            try:
                await self.retry_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consumer.deferred_retry_failed", group=self._group_id)
            await asyncio.sleep(POLL_SECONDS)

    async def retry_due(self) -> int:
        """Try every parked event that is due; return how many were applied."""
        async with self._sessionmaker() as session, session.begin():
            rows = (
                (
                    await session.execute(
                        select(self._table.c.seq)
                        .where(
                            self._table.c.consumer_group == self._group_id,
                            self._table.c.next_attempt_at <= datetime.now(UTC),
                        )
                        .order_by(self._table.c.seq)
                        .limit(BATCH_SIZE)
                    )
                )
                .scalars()
                .all()
            )
        applied = 0
        for seq in rows:
            applied += await self._retry_one(seq)
        return applied

    async def _retry_one(self, seq: int) -> int:
        row = await self._claim(seq)
        if row is None:
            return 0
        envelope = Envelope.from_json(row.envelope)

        async def remove(session: AsyncSession) -> None:
            await session.execute(delete(self._table).where(self._table.c.seq == seq))

        try:
            await self._handle(envelope, check_deferred=False, session_hook=remove)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            await self._failed(row, envelope, error)
            return 0
        log.info(
            "consumer.deferred_applied",
            group=self._group_id,
            event_type=envelope.type,
            attempts=row.attempts,
        )
        return 1

    async def _claim(self, seq: int) -> Any | None:
        """Return the row when it is due, unlocked and first of its key."""
        async with self._sessionmaker() as session, session.begin():
            row = (
                await session.execute(
                    select(self._table)
                    .where(self._table.c.seq == seq)
                    .with_for_update(skip_locked=True)
                )
            ).first()
            if row is None:
                return None
            if await self.has_parked(session, row.key, before_seq=seq):
                return None
            # Push the next attempt out before trying, so that another
            # instance of this group does not pick the same row meanwhile.
            await session.execute(
                update(self._table)
                .where(self._table.c.seq == seq)
                .values(
                    next_attempt_at=datetime.now(UTC)
                    + timedelta(seconds=backoff_seconds(row.attempts + 1))
                )
            )
        return row

    async def _failed(self, row: Any, envelope: Envelope, error: Exception) -> None:
        attempts = row.attempts + 1
        limit = (
            RETRY_LATER_MAX_ATTEMPTS
            if isinstance(error, RetryLaterError)
            else self._max_attempts
        )
        if attempts < limit:
            async with self._sessionmaker() as session, session.begin():
                await session.execute(
                    update(self._table)
                    .where(self._table.c.seq == row.seq)
                    .values(
                        attempts=attempts,
                        last_error=f"{type(error).__name__}: {error}"[:1000],
                        next_attempt_at=datetime.now(UTC)
                        + timedelta(seconds=backoff_seconds(attempts)),
                    )
                )
            return
        message = envelope.to_kafka()
        key = message.key.encode() if isinstance(message.key, str) else message.key
        await self._dead_letter(
            topic=row.topic,
            key=key,
            value=message.value,
            headers=list(message.headers.items()),
            error=error,
            attempts=attempts,
            partition=row.partition,
            offset=row.offset,
        )
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                delete(self._table).where(self._table.c.seq == row.seq)
            )
