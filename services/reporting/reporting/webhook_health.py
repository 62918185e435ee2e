"""Give up on a failing endpoint: disable it and tell the tenant on its stream."""

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from reporting import webhook_repository as store
from reporting.event_names import WEBHOOK_DISABLED
from reporting.fanout import append_stream_event


async def disable_and_tell_tenant(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    reason: str,
    now: datetime,
) -> bool:
    """Disable a subscription and add a `webhook.disabled` event to the stream.

    Return False when it was disabled already; the tenant is then told nothing
    again.
    """
    disabled = await store.disable_subscription(session, subscription_id, reason)
    if disabled:
        await append_stream_event(
            session,
            tenant_id=tenant_id,
            event_type=WEBHOOK_DISABLED,
            data={"subscription_id": str(subscription_id), "reason": reason},
            occurred_at=now,
        )
    return disabled
