"""Finished webhook attempts, turned into the columns that record a batch of them.

The delivery worker POSTs many deliveries at once and records what came of
them together: one row of columns per statement, so that a batch costs a
few statements whatever its size. Everything here is pure; the SQL is in
`webhook_repository`.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reporting.attempts import AttemptOutcome

MAX_ERROR_LENGTH = 500


@dataclass(frozen=True)
class FinishedAttempt:
    """One POST's outcome, with what follows it, waiting to be recorded."""

    tenant_id: uuid.UUID
    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    msg_id: str
    attempt_number: int
    outcome: AttemptOutcome
    state: str
    retry_in_seconds: float | None
    finished_at: datetime

    @property
    def error(self) -> str | None:
        error = self.outcome.error
        return error[:MAX_ERROR_LENGTH] if error else None


@dataclass(frozen=True)
class SubscriptionHealth:
    """The change a batch makes to one subscription's health.

    `failing_since` is the first failure after the batch's last delivery: it
    starts a failing streak when none is running yet. `last` is the
    subscription's latest attempt in the batch.
    """

    tenant_id: uuid.UUID
    subscription_id: uuid.UUID
    healthy: bool
    failing_since: datetime | None
    gone: bool
    last: FinishedAttempt


def attempt_columns(batch: Sequence[FinishedAttempt]) -> dict[str, list[Any]]:
    """Columns of the attempt rows, one entry per attempt."""
    return {
        "tenant_ids": [item.tenant_id for item in batch],
        "delivery_ids": [item.delivery_id for item in batch],
        "subscription_ids": [item.subscription_id for item in batch],
        "attempt_numbers": [item.attempt_number for item in batch],
        "status_codes": [item.outcome.status_code for item in batch],
        "latencies_ms": [item.outcome.latency_ms for item in batch],
        "errors": [item.error for item in batch],
        "attempted_at": [item.finished_at for item in batch],
    }


def delivery_columns(batch: Sequence[FinishedAttempt]) -> dict[str, list[Any]]:
    """Columns of the delivery updates, one entry per attempt."""
    return {
        "delivery_ids": [item.delivery_id for item in batch],
        "attempt_numbers": [item.attempt_number for item in batch],
        "states": [item.state for item in batch],
        "retry_in_seconds": [item.retry_in_seconds for item in batch],
        "status_codes": [item.outcome.status_code for item in batch],
        "errors": [item.error for item in batch],
        "finished_at": [item.finished_at for item in batch],
    }


def health_by_subscription(
    batch: Sequence[FinishedAttempt],
) -> list[SubscriptionHealth]:
    """Fold a batch, in finishing order, into one health change per subscription."""
    folded: dict[uuid.UUID, SubscriptionHealth] = {}
    for item in batch:
        before = folded.get(item.subscription_id)
        delivered = item.outcome.delivered
        since = None
        if not delivered:
            running = before.failing_since if before is not None else None
            since = running or item.finished_at
        folded[item.subscription_id] = SubscriptionHealth(
            tenant_id=item.tenant_id,
            subscription_id=item.subscription_id,
            healthy=delivered,
            failing_since=since,
            gone=item.outcome.gone or (before is not None and before.gone),
            last=item,
        )
    return list(folded.values())


def health_columns(health: Sequence[SubscriptionHealth]) -> dict[str, list[Any]]:
    return {
        "subscription_ids": [entry.subscription_id for entry in health],
        "healthy": [entry.healthy for entry in health],
        "failing_since": [entry.failing_since for entry in health],
    }


def give_up_reason(
    health: SubscriptionHealth,
    streak_started: datetime | None,
    *,
    disable_after: timedelta,
) -> str | None:
    """Return why to disable the subscription, or None to keep it.

    A 410 disables at once, even when a later attempt of the batch succeeded;
    other failures only once the streak is too long. `streak_started` is the
    stored start after this batch, None when the subscription was not enabled
    any more.
    """
    if health.gone:
        return "the receiver answered 410 Gone"
    if health.healthy or streak_started is None:
        return None
    last = health.last
    if last.finished_at - streak_started >= disable_after:
        reason = (
            f"every attempt has failed since {streak_started.isoformat()}, "
            f"the last with: {last.outcome.error}"
        )
        return reason[:MAX_ERROR_LENGTH]
    return None
