"""The live stream of a tenant's events, as Server-Sent Events.

The stream keeps no database connection open while it waits: each poll opens a
session, reads at most a batch of events after the last sequence number
sent, and closes it. Between polls it sleeps until a commit of stream events
wakes it (this instance's consumer, or any instance through LISTEN/NOTIFY)
or the poll interval passes; that interval is long while LISTEN works.
"""

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import select
from sse_starlette import ServerSentEvent

from reporting import repository
from reporting.event_names import STREAM_EVENT_TYPES
from reporting.models import StreamEvent
from reporting.notifier import commit_notifier, wait_for
from reporting.settings import ReportingSettings
from shared.auth import Tenant
from shared.errors import UnprocessableError
from shared.masking import mask_document
from shared.runtime import ServiceRuntime


def parse_event_types(types: str | None) -> list[str] | None:
    if types is None or not types.strip():
        return None
    names = [name.strip() for name in types.split(",") if name.strip()]
    for name in names:
        if name not in STREAM_EVENT_TYPES:
            raise UnprocessableError(
                f"unknown event type {name!r} in 'types'; allowed: "
                + ", ".join(STREAM_EVENT_TYPES),
                allowed=list(STREAM_EVENT_TYPES),
            )
    return names


MAX_EVENT_ID = 2**63 - 1
# The last event of a stream whose caller lost access; a client that
# reconnects then gets the 401 that explains what to do.
STREAM_ENDED = "stream.ended"
EVENT_ID_PATTERN = re.compile(r"[0-9]{1,19}")


def parse_last_event_id(value: str | None) -> int | None:
    """Parse Last-Event-ID, ASCII digits from 0 to 2**63 - 1; None when absent."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    seq = int(text) if EVENT_ID_PATTERN.fullmatch(text) else -1
    if not 0 <= seq <= MAX_EVENT_ID:
        # Starlette decodes headers as Latin-1; the bytes sent were most
        # likely UTF-8, so show them as such, escaped if they are not.
        try:
            text = text.encode("latin-1").decode("utf-8", errors="backslashreplace")
        except UnicodeEncodeError:
            pass  # Not a decoded header: already text.
        quoted_value = text if len(text) <= 40 else text[:40] + "..."
        raise UnprocessableError(
            f"Last-Event-ID {quoted_value!r} is not an event id of this stream, "
            f"because ids are whole numbers from 0 to {MAX_EVENT_ID}. Send the id "
            "of the last event received, or omit the header to start from now."
        )
    return seq


async def start_seq(
    runtime: ServiceRuntime, tenant_id: uuid.UUID, last_event_id: int | None
) -> int:
    """Return the seq to stream after: the client's last id, or the latest one."""
    if last_event_id is not None:
        return last_event_id
    async with runtime.sessionmaker() as session, session.begin():
        return await repository.latest_stream_seq(session, tenant_id)


async def stream_events(
    runtime: ServiceRuntime,
    tenant_id: uuid.UUID,
    *,
    after_seq: int,
    campaign_id: uuid.UUID | None,
    event_types: Sequence[str] | None,
    mask_personal: bool = False,
    caller: Tenant | None = None,
) -> AsyncIterator[ServerSentEvent]:
    """Yield the tenant's events with seq > after_seq, in order, until cancelled.

    With `mask_personal`, names and phones in the events come masked. With a
    `caller`, the stream ends, with a last `stream.ended` event that says
    why, once the caller's API key is revoked or its access token expires,
    as any other request with that credential would then get a 401.
    """
    settings = cast(ReportingSettings, runtime.settings)
    notifier = commit_notifier(runtime)
    last_seq = after_seq
    checked_at = time.monotonic()
    while True:
        # Taken before the read, so a commit after the read still wakes us.
        wake = notifier.current()
        due = time.monotonic() - checked_at >= settings.stream_credential_check_seconds
        ended = await credential_ended(runtime, caller, check_key=due)
        if due:
            checked_at = time.monotonic()
        if ended is not None:
            yield ServerSentEvent(
                data=json.dumps({"reason": ended}), event=STREAM_ENDED
            )
            return
        async with runtime.sessionmaker() as session, session.begin():
            rows = await repository.stream_events_after(
                session,
                tenant_id=tenant_id,
                after_seq=last_seq,
                campaign_id=campaign_id,
                event_types=event_types,
                limit=settings.stream_batch_size,
            )
        for row in rows:
            last_seq = row.seq
            yield ServerSentEvent(
                data=json.dumps(
                    _event_document(row, mask_personal), separators=(",", ":")
                ),
                event=row.event_type,
                id=str(row.seq),
            )
        if len(rows) < settings.stream_batch_size:
            wait = _poll_seconds(settings, listening=notifier.listening)
            if caller is not None and caller.role is None:
                wait = min(wait, settings.stream_credential_check_seconds)
            if caller is not None and caller.usable_until is not None:
                left = (caller.usable_until - datetime.now(UTC)).total_seconds()
                wait = max(0.0, min(wait, left))
            await wait_for(wake, wait)


async def credential_ended(
    runtime: ServiceRuntime, caller: Tenant | None, *, check_key: bool
) -> str | None:
    """Say why the caller's credential no longer admits it, or None if it does."""
    if caller is None:
        return None
    if caller.usable_until is not None and datetime.now(UTC) >= caller.usable_until:
        return "the access token expired; get a new one and reconnect"
    if caller.role is None and check_key:
        api_keys = runtime.tables.api_keys
        async with runtime.sessionmaker() as session, session.begin():
            live = await session.scalar(
                select(api_keys.c.key_id).where(
                    api_keys.c.key_id == caller.key_id,
                    api_keys.c.revoked_at.is_(None),
                )
            )
        if live is None:
            return "the API key was revoked; reconnect with a valid key"
    return None


def _poll_seconds(settings: ReportingSettings, *, listening: bool) -> float:
    """Poll rarely while LISTEN relays every commit, often when it is down."""
    if listening:
        return max(settings.stream_poll_seconds, settings.stream_listening_poll_seconds)
    return settings.stream_poll_seconds


def _event_document(row: StreamEvent, mask_personal: bool) -> dict[str, object]:
    return {
        "seq": row.seq,
        "type": row.event_type,
        "event_id": str(row.event_id),
        "time": row.occurred_at.isoformat(),
        "campaign_id": str(row.campaign_id) if row.campaign_id else None,
        "data": mask_document(row.data) if mask_personal else row.data,
    }
