"""SQL of webhook subscriptions, messages, deliveries and attempts."""

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Interval, Row, any_, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.models import (
    DELIVERY_CANCELLED,
    DELIVERY_PENDING,
    ORIGIN_EVENT,
    SUBSCRIPTION_DISABLED,
    SUBSCRIPTION_ENABLED,
    WebhookAttempt,
    WebhookDelivery,
    WebhookMessage,
    WebhookSubscription,
)


def _seconds_from_now(seconds: float) -> Any:
    return func.now() + literal(timedelta(seconds=seconds), Interval)


async def insert_subscription(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(WebhookSubscription).values(**values))


async def list_subscriptions(
    session: AsyncSession, tenant_id: uuid.UUID
) -> Sequence[WebhookSubscription]:
    rows = await session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.tenant_id == tenant_id)
        .order_by(WebhookSubscription.created_at, WebhookSubscription.subscription_id)
    )
    return rows.all()


async def get_subscription(
    session: AsyncSession, tenant_id: uuid.UUID, subscription_id: uuid.UUID
) -> WebhookSubscription | None:
    return await session.scalar(
        select(WebhookSubscription).where(
            WebhookSubscription.tenant_id == tenant_id,
            WebhookSubscription.subscription_id == subscription_id,
        )
    )


async def disable_subscription(
    session: AsyncSession, subscription_id: uuid.UUID, reason: str
) -> bool:
    """Disable an enabled subscription and cancel its pending deliveries.

    Return False when it was not enabled any more.
    """
    disabled = await session.scalar(
        update(WebhookSubscription)
        .where(
            WebhookSubscription.subscription_id == subscription_id,
            WebhookSubscription.state == SUBSCRIPTION_ENABLED,
        )
        .values(
            state=SUBSCRIPTION_DISABLED, disabled_reason=reason, disabled_at=func.now()
        )
        .returning(WebhookSubscription.subscription_id)
    )
    if disabled is None:
        return False
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == subscription_id,
            WebhookDelivery.state == DELIVERY_PENDING,
        )
        .values(state=DELIVERY_CANCELLED, finished_at=func.now(), last_error=reason)
    )
    return True


async def matching_subscription_ids(
    session: AsyncSession, tenant_id: uuid.UUID, event_type: str
) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(WebhookSubscription.subscription_id).where(
            WebhookSubscription.tenant_id == tenant_id,
            WebhookSubscription.state == SUBSCRIPTION_ENABLED,
            any_(WebhookSubscription.event_types) == event_type,
        )
    )
    return list(rows.all())


async def insert_message(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(
        insert(WebhookMessage).values(**values).on_conflict_do_nothing()
    )


async def enabled_subscriptions(
    session: AsyncSession, tenant_ids: Collection[uuid.UUID]
) -> Sequence[Row[Any]]:
    """Return the enabled subscriptions of these tenants with their event types."""
    rows = await session.execute(
        select(
            WebhookSubscription.tenant_id,
            WebhookSubscription.subscription_id,
            WebhookSubscription.event_types,
        ).where(
            WebhookSubscription.tenant_id.in_(tenant_ids),
            WebhookSubscription.state == SUBSCRIPTION_ENABLED,
        )
    )
    return rows.all()


async def insert_messages(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> None:
    if rows:
        await session.execute(
            insert(WebhookMessage).on_conflict_do_nothing(), list(rows)
        )


def delivery_rows(
    *,
    tenant_id: uuid.UUID,
    msg_id: str,
    subscription_ids: Sequence[uuid.UUID],
    origin: str = ORIGIN_EVENT,
) -> list[dict[str, Any]]:
    return [
        {
            "delivery_id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "subscription_id": subscription_id,
            "msg_id": msg_id,
            "state": DELIVERY_PENDING,
            "attempts": 0,
            "origin": origin,
        }
        for subscription_id in subscription_ids
    ]


async def insert_deliveries(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    msg_id: str,
    subscription_ids: Sequence[uuid.UUID],
    origin: str = ORIGIN_EVENT,
) -> None:
    rows = delivery_rows(
        tenant_id=tenant_id,
        msg_id=msg_id,
        subscription_ids=subscription_ids,
        origin=origin,
    )
    await insert_delivery_rows(session, rows)


async def insert_delivery_rows(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> None:
    """Queue deliveries, due at once, in one statement for all rows."""
    if rows:
        statement = insert(WebhookDelivery).values(next_attempt_at=func.now())
        await session.execute(statement.on_conflict_do_nothing(), list(rows))


async def list_attempts(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    *,
    limit: int,
) -> Sequence[Row[Any]]:
    rows = await session.execute(
        select(
            WebhookAttempt.delivery_id,
            WebhookDelivery.msg_id,
            WebhookMessage.event_type,
            WebhookDelivery.state.label("delivery_state"),
            WebhookDelivery.origin,
            WebhookAttempt.attempt_number,
            WebhookAttempt.status_code,
            WebhookAttempt.latency_ms,
            WebhookAttempt.error,
            WebhookAttempt.attempted_at,
        )
        .join(
            WebhookDelivery,
            WebhookDelivery.delivery_id == WebhookAttempt.delivery_id,
        )
        .join(WebhookMessage, WebhookMessage.msg_id == WebhookDelivery.msg_id)
        .where(
            WebhookAttempt.tenant_id == tenant_id,
            WebhookAttempt.subscription_id == subscription_id,
        )
        .order_by(WebhookAttempt.attempted_at.desc(), WebhookAttempt.attempt_id.desc())
        .limit(limit)
    )
    return rows.all()


async def lock_due_deliveries(
    session: AsyncSession, *, skip_subscriptions: Collection[uuid.UUID], limit: int
) -> Sequence[Row[Any]]:
    """Lock due deliveries of enabled subscriptions that no other worker holds."""
    query = (
        select(WebhookDelivery.delivery_id, WebhookDelivery.subscription_id)
        .join(
            WebhookSubscription,
            WebhookSubscription.subscription_id == WebhookDelivery.subscription_id,
        )
        .where(
            WebhookDelivery.state == DELIVERY_PENDING,
            WebhookDelivery.next_attempt_at <= func.now(),
            WebhookSubscription.state == SUBSCRIPTION_ENABLED,
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    if skip_subscriptions:
        query = query.where(
            WebhookDelivery.subscription_id.not_in(list(skip_subscriptions))
        )
    return (await session.execute(query)).all()


async def lease_deliveries(
    session: AsyncSession, delivery_ids: Sequence[uuid.UUID], lease_seconds: float
) -> Sequence[Row[Any]]:
    """Count an attempt on each locked delivery and hide it for the lease."""
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.delivery_id.in_(delivery_ids))
        .values(
            attempts=WebhookDelivery.attempts + 1,
            next_attempt_at=_seconds_from_now(lease_seconds),
        )
    )
    rows = await session.execute(
        select(
            WebhookDelivery.delivery_id,
            WebhookDelivery.tenant_id,
            WebhookDelivery.subscription_id,
            WebhookDelivery.msg_id,
            WebhookDelivery.attempts,
            WebhookSubscription.url,
            WebhookSubscription.secret,
            WebhookSubscription.previous_secret,
            WebhookSubscription.previous_secret_expires_at,
            WebhookMessage.body,
        )
        .join(
            WebhookSubscription,
            WebhookSubscription.subscription_id == WebhookDelivery.subscription_id,
        )
        .join(WebhookMessage, WebhookMessage.msg_id == WebhookDelivery.msg_id)
        .where(WebhookDelivery.delivery_id.in_(delivery_ids))
    )
    return rows.all()


async def insert_attempt(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(WebhookAttempt).values(**values))


async def finish_attempt(
    session: AsyncSession,
    *,
    delivery_id: uuid.UUID,
    attempt_number: int,
    state: str,
    retry_in_seconds: float | None,
    status_code: int | None,
    error: str | None,
    now: datetime,
) -> bool:
    """Store an attempt's outcome unless another worker took the delivery over.

    The delivery must still be pending with this attempt count: a worker whose
    lease ran out finds another attempt counted and changes nothing.
    """
    values: dict[str, Any] = {
        "state": state,
        "last_status_code": status_code,
        "last_error": error,
    }
    if retry_in_seconds is not None:
        values["next_attempt_at"] = _seconds_from_now(retry_in_seconds)
    else:
        values["finished_at"] = now
    updated = await session.scalar(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.delivery_id == delivery_id,
            WebhookDelivery.attempts == attempt_number,
            WebhookDelivery.state == DELIVERY_PENDING,
        )
        .values(**values)
        .returning(WebhookDelivery.delivery_id)
    )
    return updated is not None


async def lock_subscription(
    session: AsyncSession, tenant_id: uuid.UUID, subscription_id: uuid.UUID
) -> WebhookSubscription | None:
    """Read a subscription and lock it until the transaction ends."""
    return await session.scalar(
        select(WebhookSubscription)
        .where(
            WebhookSubscription.tenant_id == tenant_id,
            WebhookSubscription.subscription_id == subscription_id,
        )
        .with_for_update()
        # Reload a row that this session read before an UPDATE changed it.
        .execution_options(populate_existing=True)
    )


async def enable_subscription(
    session: AsyncSession, subscription_id: uuid.UUID
) -> None:
    """Enable a subscription again; it starts healthy, with no failing streak."""
    await session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.subscription_id == subscription_id)
        .values(
            state=SUBSCRIPTION_ENABLED,
            disabled_reason=None,
            disabled_at=None,
            failing_since=None,
        )
    )


async def update_subscription(
    session: AsyncSession, subscription_id: uuid.UUID, values: dict[str, Any]
) -> None:
    await session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.subscription_id == subscription_id)
        .values(**values)
    )


async def mark_failing(
    session: AsyncSession, subscription_id: uuid.UUID, now: datetime
) -> datetime | None:
    """Start the failing streak at `now` unless one runs; return its start.

    Return None when the subscription is not enabled any more.
    """
    since = await session.scalar(
        update(WebhookSubscription)
        .where(
            WebhookSubscription.subscription_id == subscription_id,
            WebhookSubscription.state == SUBSCRIPTION_ENABLED,
        )
        .values(failing_since=func.coalesce(WebhookSubscription.failing_since, now))
        .returning(WebhookSubscription.failing_since)
    )
    return since


async def mark_healthy(session: AsyncSession, subscription_id: uuid.UUID) -> None:
    await session.execute(
        update(WebhookSubscription)
        .where(
            WebhookSubscription.subscription_id == subscription_id,
            WebhookSubscription.failing_since.is_not(None),
        )
        .values(failing_since=None)
    )


async def get_message(
    session: AsyncSession, tenant_id: uuid.UUID, msg_id: str
) -> WebhookMessage | None:
    return await session.scalar(
        select(WebhookMessage).where(
            WebhookMessage.tenant_id == tenant_id, WebhookMessage.msg_id == msg_id
        )
    )


async def was_queued_for(
    session: AsyncSession, subscription_id: uuid.UUID, msg_id: str
) -> bool:
    """Tell whether the message was ever queued for this subscription."""
    found = await session.scalar(
        select(WebhookDelivery.delivery_id)
        .where(
            WebhookDelivery.subscription_id == subscription_id,
            WebhookDelivery.msg_id == msg_id,
        )
        .limit(1)
    )
    return found is not None


async def messages_in_range(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    event_types: Sequence[str],
    since: datetime,
    until: datetime,
    limit: int,
) -> list[str]:
    """Return the ids of the tenant's messages of these types in [since, until)."""
    rows = await session.scalars(
        select(WebhookMessage.msg_id)
        .where(
            WebhookMessage.tenant_id == tenant_id,
            WebhookMessage.event_type.in_(list(event_types)),
            WebhookMessage.created_at >= since,
            WebhookMessage.created_at < until,
        )
        .order_by(WebhookMessage.created_at, WebhookMessage.msg_id)
        .limit(limit)
    )
    return list(rows.all())


async def insert_redeliveries(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    msg_ids: Sequence[str],
    origin: str,
) -> list[uuid.UUID]:
    """Queue new deliveries of existing messages; they keep their webhook-id."""
    if not msg_ids:
        return []
    rows = [
        {
            "delivery_id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "subscription_id": subscription_id,
            "msg_id": msg_id,
            "state": DELIVERY_PENDING,
            "attempts": 0,
            "next_attempt_at": func.now(),
            "origin": origin,
        }
        for msg_id in msg_ids
    ]
    await session.execute(insert(WebhookDelivery).values(rows))
    return [row["delivery_id"] for row in rows]
