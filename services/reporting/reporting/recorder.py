"""Record finished webhook attempts in batches, one transaction per batch.

A POST's outcome waits in memory until the recorder writes it, together with
every other outcome that finished meanwhile: the attempt rows, the delivery
states, the subscriptions' failing streaks and any subscription given up on.
An outcome lost before it is written, because the process died, leaves its
delivery leased. When the lease runs out the delivery is sent again under
the same webhook-id, as at-least-once delivery allows.
"""

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reporting import webhook_repository as store
from reporting.outcomes import (
    FinishedAttempt,
    attempt_columns,
    delivery_columns,
    give_up_reason,
    health_by_subscription,
    health_columns,
)
from reporting.webhook_health import disable_and_tell_tenant

log = structlog.get_logger(__name__)

# A short wait lets outcomes that finish together share one transaction.
GATHER_SECONDS = 0.005
MAX_BATCH = 500
# A batch whose write fails this often is dropped. Its deliveries are sent
# again when their leases run out.
MAX_WRITE_TRIES = 3
RETRY_WRITE_SECONDS = 1.0


async def record_outcomes(
    session: AsyncSession,
    batch: Sequence[FinishedAttempt],
    *,
    disable_after: timedelta,
) -> list[str]:
    """Write a batch of outcomes in the caller's transaction.

    Return the ids of the subscriptions disabled. The subscriptions are
    written before any delivery, the order that disabling and PATCH use too.
    """
    health = health_by_subscription(batch)
    streaks = await store.update_health(session, health_columns(health))
    await store.insert_attempts(session, attempt_columns(batch))
    await store.finish_attempts(session, delivery_columns(batch))
    disabled = []
    for entry in health:
        reason = give_up_reason(
            entry, streaks.get(entry.subscription_id), disable_after=disable_after
        )
        if reason is None:
            continue
        if await disable_and_tell_tenant(
            session,
            tenant_id=entry.tenant_id,
            subscription_id=entry.subscription_id,
            reason=reason,
            now=entry.last.finished_at,
        ):
            disabled.append(str(entry.subscription_id))
    return disabled


class OutcomeRecorder:
    """Queue finished attempts and write them in batches until cancelled."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        disable_after: timedelta,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._disable_after = disable_after
        self._queue: list[FinishedAttempt] = []
        self._queued = asyncio.Event()

    def add(self, finished: FinishedAttempt) -> None:
        self._queue.append(finished)
        self._queued.set()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    async def run(self) -> None:
        while True:
            await self._queued.wait()
            if len(self._queue) < MAX_BATCH:
                await asyncio.sleep(GATHER_SECONDS)
            await self._write_next()

    async def flush(self) -> None:
        """Write everything queued; the worker calls it when it stops."""
        while self._queue:
            await self._write_next(tries=1)

    async def _write_next(self, *, tries: int = MAX_WRITE_TRIES) -> None:
        batch = self._queue[:MAX_BATCH]
        del self._queue[:MAX_BATCH]
        if not self._queue:
            self._queued.clear()
        try:
            await self._write(batch, tries)
        except asyncio.CancelledError:
            # Stopping mid-write: the transaction rolls back, and the batch
            # goes back to the queue for the final flush.
            self._queue[:0] = batch
            self._queued.set()
            raise

    async def _write(self, batch: list[FinishedAttempt], tries: int) -> None:
        for attempt in range(1, tries + 1):
            try:
                async with self._sessionmaker() as session, session.begin():
                    disabled = await record_outcomes(
                        session, batch, disable_after=self._disable_after
                    )
            except Exception as error:
                log.warning(
                    "webhook.record_failed",
                    attempts=len(batch),
                    try_number=attempt,
                    error_type=type(error).__name__,
                    error=str(error)[:500],
                )
                if attempt < tries:
                    await asyncio.sleep(RETRY_WRITE_SECONDS)
                continue
            _log_batch(batch, disabled)
            return
        log.error(
            "webhook.outcomes_dropped",
            attempts=len(batch),
            delivery_ids=[str(item.delivery_id) for item in batch[:20]],
        )


def _log_batch(batch: Sequence[FinishedAttempt], disabled: list[str]) -> None:
    """Log one line per batch and one per failed attempt, not one per delivery."""
    states = Counter(item.state for item in batch)
    log.info("webhook.attempts_recorded", attempts=len(batch), **states)
    for item in batch:
        if not item.outcome.delivered:
            log.info(
                "webhook.attempt_failed",
                delivery_id=str(item.delivery_id),
                subscription_id=str(item.subscription_id),
                msg_id=item.msg_id,
                attempt=item.attempt_number,
                status_code=item.outcome.status_code,
                state=item.state,
                retry_in_seconds=item.retry_in_seconds,
            )
    for subscription_id in disabled:
        log.warning("webhook.subscription_disabled", subscription_id=subscription_id)
