"""Webhook subscriptions: create, change, rotate the secret, disable, send again."""

import base64
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reporting import webhook_repository as store
from reporting.delivery import require_https
from reporting.models import (
    ORIGIN_REDELIVERY,
    ORIGIN_REPLAY,
    SUBSCRIPTION_ENABLED,
    WebhookSubscription,
)
from reporting.schemas import (
    DeliveryAttempt,
    DeliveryAttemptList,
    RedeliveriesQueued,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookReplay,
    WebhookSecret,
    WebhookUpdate,
)
from reporting.settings import ReportingSettings
from reporting.wake import notify_rows_written
from reporting.webhook_urls import (
    Resolver,
    UnsafeWebhookURLError,
    check_webhook_url,
    resolve_host,
)
from shared.errors import InvalidStateError, NotFoundError, UnprocessableError

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _webhook(row: WebhookSubscription) -> dict[str, Any]:
    return {
        "subscription_id": row.subscription_id,
        "url": row.url,
        "event_types": list(row.event_types),
        "description": row.description,
        "state": row.state,
        "disabled_reason": row.disabled_reason,
        "created_at": row.created_at,
        "disabled_at": row.disabled_at,
        "previous_secret_expires_at": row.previous_secret_expires_at,
        "failing_since": row.failing_since,
    }


async def check_url(
    url: str, settings: ReportingSettings, resolve: Resolver = resolve_host
) -> None:
    try:
        await check_webhook_url(
            url,
            allow_loopback=settings.webhook_allow_loopback,
            require_https=require_https(settings),
            resolve=resolve,
        )
    except UnsafeWebhookURLError as error:
        raise UnprocessableError(str(error), url=url) from error


async def create_subscription(
    session: AsyncSession, tenant_id: uuid.UUID, request: WebhookCreate
) -> WebhookCreated:
    """Insert a subscription in the caller's transaction; call check_url first."""
    values: dict[str, Any] = {
        "subscription_id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "url": request.url,
        "event_types": request.event_types,
        "description": request.description,
        "secret": new_secret(),
        "state": SUBSCRIPTION_ENABLED,
        "created_at": datetime.now(UTC),
    }
    await store.insert_subscription(session, values)
    return WebhookCreated(**values, disabled_reason=None, disabled_at=None)


async def list_subscriptions(
    session: AsyncSession, tenant_id: uuid.UUID
) -> WebhookList:
    async with session.begin():
        rows = await store.list_subscriptions(session, tenant_id)
    return WebhookList(webhooks=[Webhook(**_webhook(row)) for row in rows])


async def _get(
    session: AsyncSession, tenant_id: uuid.UUID, subscription_id: uuid.UUID
) -> WebhookSubscription:
    row = await store.get_subscription(session, tenant_id, subscription_id)
    if row is None:
        raise NotFoundError(
            f"webhook subscription {subscription_id} not found; "
            "list yours with GET /webhooks"
        )
    return row


async def get_subscription(
    session: AsyncSession, tenant_id: uuid.UUID, subscription_id: uuid.UUID
) -> Webhook:
    async with session.begin():
        row = await _get(session, tenant_id, subscription_id)
    return Webhook(**_webhook(row))


async def disable_subscription(
    session: AsyncSession, tenant_id: uuid.UUID, subscription_id: uuid.UUID
) -> None:
    """Disable a subscription; disabling a disabled one again changes nothing."""
    async with session.begin():
        await _get(session, tenant_id, subscription_id)
        await store.disable_subscription(
            session, subscription_id, "deleted by the tenant"
        )


async def list_attempts(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    *,
    limit: int,
) -> DeliveryAttemptList:
    async with session.begin():
        await _get(session, tenant_id, subscription_id)
        rows = await store.list_attempts(
            session, tenant_id, subscription_id, limit=limit
        )
    return DeliveryAttemptList(
        attempts=[DeliveryAttempt.model_validate(row._mapping) for row in rows]
    )


async def update_subscription(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    request: WebhookUpdate,
    *,
    settings: ReportingSettings,
    resolve: Resolver = resolve_host,
) -> Webhook:
    """Change a subscription's fields, enable or disable it.

    A new URL is checked, and so is the stored one when the subscription is
    enabled again: its host may resolve to a private address by now.
    """
    async with session.begin():
        row = await _get(session, tenant_id, subscription_id)
        url = request.url or row.url
        enabling = request.enabled is True and row.state != SUBSCRIPTION_ENABLED
    if request.url is not None or enabling:
        await check_url(url, settings, resolve)

    async with session.begin():
        row = await _locked(session, tenant_id, subscription_id)
        values = _changed_fields(request)
        if values:
            await store.update_subscription(session, subscription_id, values)
        if request.enabled is False:
            await store.disable_subscription(
                session, subscription_id, "disabled by the tenant"
            )
        elif request.enabled and row.state != SUBSCRIPTION_ENABLED:
            await store.enable_subscription(session, subscription_id)
        row = await _locked(session, tenant_id, subscription_id)
    return Webhook(**_webhook(row))


def _changed_fields(request: WebhookUpdate) -> dict[str, Any]:
    fields = request.model_dump(exclude_unset=True, exclude={"enabled"})
    # An explicit null clears the description; url and event_types keep theirs.
    return {
        name: value
        for name, value in fields.items()
        if value is not None or name == "description"
    }


async def _locked(
    session: AsyncSession, tenant_id: uuid.UUID, subscription_id: uuid.UUID
) -> WebhookSubscription:
    row = await store.lock_subscription(session, tenant_id, subscription_id)
    if row is None:
        raise NotFoundError(
            f"webhook subscription {subscription_id} not found; "
            "list yours with GET /webhooks"
        )
    return row


async def rotate_secret(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    *,
    overlap_seconds: float,
) -> WebhookSecret:
    """Replace the secret; the old one keeps signing for `overlap_seconds`.

    A second rotation inside the overlap drops the oldest secret at once.
    """
    secret = new_secret()
    expires_at = datetime.now(UTC) + timedelta(seconds=overlap_seconds)
    async with session.begin():
        row = await _locked(session, tenant_id, subscription_id)
        await store.update_subscription(
            session,
            subscription_id,
            {
                "secret": secret,
                "previous_secret": row.secret,
                "previous_secret_expires_at": expires_at,
            },
        )
    return WebhookSecret(
        subscription_id=subscription_id,
        secret=secret,
        previous_secret_expires_at=expires_at,
    )


async def redeliver_message(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    msg_id: str,
) -> RedeliveriesQueued:
    """Queue one message again for a subscription that it was sent to."""
    async with session.begin():
        row = await _locked(session, tenant_id, subscription_id)
        _require_enabled(row)
        message = await store.get_message(session, tenant_id, msg_id)
        if message is None or not await store.was_queued_for(
            session, subscription_id, msg_id
        ):
            raise NotFoundError(
                f"message {msg_id!r} was never sent to webhook subscription "
                f"{subscription_id}; take msg_id from GET "
                f"/webhooks/{subscription_id}/deliveries"
            )
        delivery_ids = await store.insert_redeliveries(
            session,
            tenant_id=tenant_id,
            subscription_id=subscription_id,
            msg_ids=[msg_id],
            origin=ORIGIN_REDELIVERY,
        )
        await notify_rows_written(session)
    return RedeliveriesQueued(delivery_ids=delivery_ids, msg_ids=[msg_id])


async def replay_messages(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    request: WebhookReplay,
    *,
    settings: ReportingSettings,
) -> RedeliveriesQueued:
    """Queue again every message of the subscription's types in [since, until)."""
    since, until = _replay_range(request, settings)
    limit = settings.webhook_replay_max_messages
    async with session.begin():
        row = await _locked(session, tenant_id, subscription_id)
        _require_enabled(row)
        msg_ids = await store.messages_in_range(
            session,
            tenant_id=tenant_id,
            event_types=row.event_types,
            since=since,
            until=until,
            limit=limit + 1,
        )
        if len(msg_ids) > limit:
            raise UnprocessableError(
                f"the range {since.isoformat()} to {until.isoformat()} holds more "
                f"than {limit} messages; replay it in shorter ranges",
                max_messages=limit,
            )
        delivery_ids = await store.insert_redeliveries(
            session,
            tenant_id=tenant_id,
            subscription_id=subscription_id,
            msg_ids=msg_ids,
            origin=ORIGIN_REPLAY,
        )
        await notify_rows_written(session)
    return RedeliveriesQueued(delivery_ids=delivery_ids, msg_ids=msg_ids)


def _replay_range(
    request: WebhookReplay, settings: ReportingSettings
) -> tuple[datetime, datetime]:
    since = _aware(request.since)
    until = _aware(request.until) if request.until else datetime.now(UTC)
    if until <= since:
        raise UnprocessableError(
            f"'until' ({until.isoformat()}) must come after 'since' "
            f"({since.isoformat()})"
        )
    longest = settings.webhook_replay_max_range_seconds
    if (until - since).total_seconds() > longest:
        raise UnprocessableError(
            f"a replay covers at most {longest / 3600:g} hours; "
            f"split {since.isoformat()} to {until.isoformat()} into shorter ranges",
            max_range_seconds=longest,
        )
    return since, until


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _require_enabled(row: WebhookSubscription) -> None:
    if row.state != SUBSCRIPTION_ENABLED:
        raise InvalidStateError(
            f"webhook subscription {row.subscription_id} is disabled "
            f"({row.disabled_reason}); enable it with PATCH "
            f'/webhooks/{row.subscription_id} {{"enabled": true}} first'
        )
