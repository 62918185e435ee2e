"""Webhook subscriptions: create with a URL check and a fresh secret, list, disable."""

import base64
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reporting import webhook_repository as store
from reporting.delivery import require_https
from reporting.models import SUBSCRIPTION_ENABLED, WebhookSubscription
from reporting.schemas import (
    DeliveryAttempt,
    DeliveryAttemptList,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
)
from reporting.settings import ReportingSettings
from reporting.webhook_urls import UnsafeWebhookURLError, check_webhook_url
from shared.errors import NotFoundError, UnprocessableError

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
    }


async def check_url(url: str, settings: ReportingSettings) -> None:
    try:
        await check_webhook_url(
            url,
            allow_loopback=settings.webhook_allow_loopback,
            require_https=require_https(settings),
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
