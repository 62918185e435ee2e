"""Append a consumed event to the live stream and queue it for webhook subscribers.

Both writes happen in the consumer's transaction, which also records the
event id as handled, so a redelivered event is neither streamed nor queued again.
"""

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reporting import repository, webhook_repository
from reporting.event_names import WEBHOOK_EVENT_TYPES, short_name
from reporting.wake import notify_rows_written
from shared.events import Envelope


def webhook_msg_id(event_id: uuid.UUID) -> str:
    return "msg_" + event_id.hex


def webhook_body(event_type: str, envelope: Envelope) -> str:
    """Serialise the Standard Webhooks body; these exact bytes are signed."""
    document = {
        "type": event_type,
        "timestamp": envelope.time.isoformat(),
        "data": envelope.data,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


async def fan_out(
    session: AsyncSession, envelope: Envelope, campaign_id: uuid.UUID | None
) -> None:
    event_type = short_name(envelope.type)
    seq = await repository.next_stream_seq(session, envelope.tenant_id)
    stream_values: dict[str, Any] = {
        "tenant_id": envelope.tenant_id,
        "seq": seq,
        "event_id": envelope.id,
        "event_type": event_type,
        "campaign_id": campaign_id,
        "occurred_at": envelope.time,
        "data": envelope.data,
    }
    await repository.insert_stream_event(session, stream_values)
    await notify_rows_written(session)
    if event_type in WEBHOOK_EVENT_TYPES:
        await _queue_webhooks(session, envelope, event_type)


async def append_stream_event(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    event_type: str,
    data: dict[str, Any],
    occurred_at: datetime,
) -> None:
    """Add an event that reporting itself raises to the tenant's live stream."""
    seq = await repository.next_stream_seq(session, tenant_id)
    await repository.insert_stream_event(
        session,
        {
            "tenant_id": tenant_id,
            "seq": seq,
            "event_id": uuid.uuid4(),
            "event_type": event_type,
            "campaign_id": None,
            "occurred_at": occurred_at,
            "data": data,
        },
    )
    await notify_rows_written(session)


async def _queue_webhooks(
    session: AsyncSession, envelope: Envelope, event_type: str
) -> None:
    subscription_ids = await webhook_repository.matching_subscription_ids(
        session, envelope.tenant_id, event_type
    )
    if not subscription_ids:
        return
    msg_id = webhook_msg_id(envelope.id)
    await webhook_repository.insert_message(
        session,
        {
            "msg_id": msg_id,
            "tenant_id": envelope.tenant_id,
            "event_type": event_type,
            "body": webhook_body(event_type, envelope),
        },
    )
    await webhook_repository.insert_deliveries(
        session,
        tenant_id=envelope.tenant_id,
        msg_id=msg_id,
        subscription_ids=subscription_ids,
    )
