"""SQL of webhook subscriptions, messages, deliveries and attempts."""

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Interval, Row, any_, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.models import (
    DELIVERY_CANCELLED,
    DELIVERY_PENDING,
    ORIGIN_EVENT,
    SCHEMA,
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


# The claim picks due deliveries of enabled subscriptions that no other worker
# holds, applies the per-subscription cap to what this worker already has in
# flight, and leases what it picked, all in one statement. Rows over the cap
# stay locked only until the statement's transaction commits.
CLAIM_DELIVERIES = text(
    f"""
    WITH busy AS (
        SELECT *
        FROM unnest(CAST(:busy_ids AS uuid[]), CAST(:busy_counts AS int[]))
            AS busy(subscription_id, in_flight)
    ),
    due AS (
        SELECT d.delivery_id, d.subscription_id, d.next_attempt_at
        FROM {SCHEMA}.webhook_deliveries AS d
        JOIN {SCHEMA}.webhook_subscriptions AS s
            ON s.subscription_id = d.subscription_id
        WHERE d.state = '{DELIVERY_PENDING}'
            AND d.next_attempt_at <= now()
            AND s.state = '{SUBSCRIPTION_ENABLED}'
            AND d.subscription_id NOT IN (
                SELECT subscription_id FROM busy WHERE in_flight >= :cap
            )
        ORDER BY d.next_attempt_at
        LIMIT :limit
        FOR UPDATE OF d SKIP LOCKED
    ),
    ranked AS (
        SELECT due.delivery_id, due.subscription_id, due.next_attempt_at,
            row_number() OVER (
                PARTITION BY due.subscription_id
                ORDER BY due.next_attempt_at, due.delivery_id
            ) AS place
        FROM due
    ),
    picked AS (
        SELECT ranked.delivery_id
        FROM ranked
        LEFT JOIN busy ON busy.subscription_id = ranked.subscription_id
        WHERE ranked.place + coalesce(busy.in_flight, 0) <= :cap
    )
    UPDATE {SCHEMA}.webhook_deliveries AS d
    SET attempts = d.attempts + 1,
        next_attempt_at = now() + make_interval(secs => :lease_seconds)
    FROM picked, {SCHEMA}.webhook_subscriptions AS s, {SCHEMA}.webhook_messages AS m
    WHERE d.delivery_id = picked.delivery_id
        AND s.subscription_id = d.subscription_id
        AND m.msg_id = d.msg_id
    RETURNING d.delivery_id, d.tenant_id, d.subscription_id, d.msg_id,
        d.attempts, s.url, s.secret, s.previous_secret,
        s.previous_secret_expires_at, m.body
    """
)


# A claim is planned afresh each time. Otherwise PostgreSQL may keep the
# generic plan it made after five claims on a nearly empty table, and with
# 12,000 deliveries that plan took over 100 ms a claim where a fresh one took
# 1 to 5 ms (docs/benchmarks.md).
CUSTOM_PLAN = text("SET LOCAL plan_cache_mode = force_custom_plan")


async def claim_deliveries(
    session: AsyncSession,
    *,
    in_flight: dict[uuid.UUID, int],
    cap_per_subscription: int,
    limit: int,
    lease_seconds: float,
) -> Sequence[Row[Any]]:
    """Count an attempt on up to `limit` due deliveries and hide them for the lease.

    `in_flight` counts the POSTs this worker has running per subscription; no
    subscription gets more than `cap_per_subscription` in all. The caller's
    transaction plans its statements afresh from here on.
    """
    await session.execute(CUSTOM_PLAN)
    rows = await session.execute(
        CLAIM_DELIVERIES,
        {
            "busy_ids": list(in_flight),
            "busy_counts": list(in_flight.values()),
            "cap": cap_per_subscription,
            "limit": limit,
            "lease_seconds": float(lease_seconds),
        },
    )
    return rows.all()


# Subscription rows are locked in id order, so that two workers recording
# outcomes of the same subscriptions wait for each other instead of
# deadlocking. A delivery clears the failing streak; a failure starts it
# unless one runs, and only on an enabled subscription.
UPDATE_HEALTH = text(
    f"""
    WITH outcome AS (
        SELECT *
        FROM unnest(
            CAST(:subscription_ids AS uuid[]),
            CAST(:healthy AS boolean[]),
            CAST(:failing_since AS timestamptz[])
        ) AS outcome(subscription_id, healthy, failing_since)
    ),
    locked AS (
        SELECT s.subscription_id
        FROM {SCHEMA}.webhook_subscriptions AS s
        JOIN outcome ON outcome.subscription_id = s.subscription_id
        WHERE (outcome.healthy AND s.failing_since IS NOT NULL)
            OR (NOT outcome.healthy AND s.state = '{SUBSCRIPTION_ENABLED}')
        ORDER BY s.subscription_id
        FOR UPDATE OF s
    )
    UPDATE {SCHEMA}.webhook_subscriptions AS s
    SET failing_since = CASE
        WHEN outcome.healthy THEN NULL
        ELSE coalesce(s.failing_since, outcome.failing_since)
    END
    FROM outcome JOIN locked ON locked.subscription_id = outcome.subscription_id
    WHERE s.subscription_id = outcome.subscription_id
    RETURNING s.subscription_id, s.failing_since
    """
)


async def update_health(
    session: AsyncSession, columns: dict[str, list[Any]]
) -> dict[uuid.UUID, datetime | None]:
    """Apply each subscription's last outcome; return failing streak starts.

    `columns` holds `subscription_ids`, `healthy` and `failing_since`, one
    entry per subscription. The result contains only the subscriptions written.
    """
    rows = await session.execute(UPDATE_HEALTH, columns)
    return {row.subscription_id: row.failing_since for row in rows}


INSERT_ATTEMPTS = text(
    f"""
    INSERT INTO {SCHEMA}.webhook_attempts (
        tenant_id, delivery_id, subscription_id, attempt_number,
        status_code, latency_ms, error, attempted_at
    )
    SELECT *
    FROM unnest(
        CAST(:tenant_ids AS uuid[]),
        CAST(:delivery_ids AS uuid[]),
        CAST(:subscription_ids AS uuid[]),
        CAST(:attempt_numbers AS int[]),
        CAST(:status_codes AS int[]),
        CAST(:latencies_ms AS int[]),
        CAST(:errors AS text[]),
        CAST(:attempted_at AS timestamptz[])
    )
    """
)


async def insert_attempts(session: AsyncSession, columns: dict[str, list[Any]]) -> None:
    await session.execute(INSERT_ATTEMPTS, columns)


# A delivery must still be pending with the attempt count that was leased: a
# worker whose lease ran out finds another attempt counted and changes
# nothing. A retry delay keeps the delivery pending; none ends it.
FINISH_ATTEMPTS = text(
    f"""
    UPDATE {SCHEMA}.webhook_deliveries AS d
    SET state = outcome.state,
        last_status_code = outcome.status_code,
        last_error = outcome.error,
        next_attempt_at = CASE
            WHEN outcome.retry_in_seconds IS NULL THEN d.next_attempt_at
            ELSE now() + make_interval(secs => outcome.retry_in_seconds)
        END,
        finished_at = CASE
            WHEN outcome.retry_in_seconds IS NULL THEN outcome.finished_at
            ELSE d.finished_at
        END
    FROM unnest(
        CAST(:delivery_ids AS uuid[]),
        CAST(:attempt_numbers AS int[]),
        CAST(:states AS text[]),
        CAST(:retry_in_seconds AS float8[]),
        CAST(:status_codes AS int[]),
        CAST(:errors AS text[]),
        CAST(:finished_at AS timestamptz[])
    ) AS outcome(
        delivery_id, attempt_number, state, retry_in_seconds,
        status_code, error, finished_at
    )
    WHERE d.delivery_id = outcome.delivery_id
        AND d.attempts = outcome.attempt_number
        AND d.state = '{DELIVERY_PENDING}'
    """
)


async def finish_attempts(session: AsyncSession, columns: dict[str, list[Any]]) -> None:
    await session.execute(FINISH_ATTEMPTS, columns)


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
