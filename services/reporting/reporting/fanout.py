"""Append a consumed event to the live stream and queue it for webhook subscribers.

Both writes happen in the consumer's transaction, which also records the
event id as handled, so a redelivered event is neither streamed nor queued again.
"""

import json
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reporting import repository, webhook_repository
from reporting.event_names import WEBHOOK_EVENT_TYPES, short_name
from reporting.wake import notify_rows_written
from shared.consumer import HandledEvent
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


def stream_row(
    envelope: Envelope, campaign_id: uuid.UUID | None, seq: int
) -> dict[str, Any]:
    return {
        "tenant_id": envelope.tenant_id,
        "seq": seq,
        "event_id": envelope.id,
        "event_type": short_name(envelope.type),
        "campaign_id": campaign_id,
        "occurred_at": envelope.time,
        "data": envelope.data,
    }


def webhook_message(envelope: Envelope) -> dict[str, Any]:
    event_type = short_name(envelope.type)
    return {
        "msg_id": webhook_msg_id(envelope.id),
        "tenant_id": envelope.tenant_id,
        "event_type": event_type,
        "body": webhook_body(event_type, envelope),
    }


async def fan_out(
    session: AsyncSession, envelope: Envelope, campaign_id: uuid.UUID | None
) -> None:
    seq = await repository.next_stream_seq(session, envelope.tenant_id)
    await repository.insert_stream_event(
        session, stream_row(envelope, campaign_id, seq)
    )
    await notify_rows_written(session)
    event_type = short_name(envelope.type)
    if event_type in WEBHOOK_EVENT_TYPES:
        await _queue_webhooks(session, envelope, event_type)


async def fan_out_batch(session: AsyncSession, events: Sequence[HandledEvent]) -> None:
    """Stream and queue a batch's events in batch order, with one statement each.

    Each tenant takes a range of sequence numbers at once and hands them
    out in batch order, so its stream has no gap and no repeat, as with
    `fan_out`. One NOTIFY wakes the streams and the worker for the batch.
    """
    if not events:
        return
    counts = Counter(event.envelope.tenant_id for event in events)
    last_seqs = await repository.reserve_stream_seqs(session, counts)
    next_seqs = {
        tenant: last_seqs[tenant] - count + 1 for tenant, count in counts.items()
    }
    rows = []
    for envelope, payload in events:
        rows.append(
            stream_row(envelope, payload.campaign_id, next_seqs[envelope.tenant_id])
        )
        next_seqs[envelope.tenant_id] += 1
    await repository.insert_stream_events(session, rows)
    await _queue_batch_webhooks(session, [event.envelope for event in events])
    await notify_rows_written(session)


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
    message = webhook_message(envelope)
    await webhook_repository.insert_message(session, message)
    await webhook_repository.insert_deliveries(
        session,
        tenant_id=envelope.tenant_id,
        msg_id=message["msg_id"],
        subscription_ids=subscription_ids,
    )


async def _queue_batch_webhooks(
    session: AsyncSession, envelopes: Sequence[Envelope]
) -> None:
    hooked = [e for e in envelopes if short_name(e.type) in WEBHOOK_EVENT_TYPES]
    if not hooked:
        return
    subscriptions = await webhook_repository.enabled_subscriptions(
        session, {envelope.tenant_id for envelope in hooked}
    )
    messages: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    for envelope in hooked:
        event_type = short_name(envelope.type)
        subscription_ids = [
            row.subscription_id
            for row in subscriptions
            if row.tenant_id == envelope.tenant_id and event_type in row.event_types
        ]
        if not subscription_ids:
            continue
        message = webhook_message(envelope)
        messages.append(message)
        deliveries += webhook_repository.delivery_rows(
            tenant_id=envelope.tenant_id,
            msg_id=message["msg_id"],
            subscription_ids=subscription_ids,
        )
    await webhook_repository.insert_messages(session, messages)
    await webhook_repository.insert_delivery_rows(session, deliveries)
