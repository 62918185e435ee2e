"""An upload's progress as Server-Sent Events, ending with its final state.

The stream keeps no database connection while it waits: each poll opens a
session, reads the upload row and closes it.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

from sse_starlette import ServerSentEvent

from ingest.uploads import repository, service
from shared.runtime import ServiceRuntime

FINAL_STATES = frozenset({"completed", "failed", "rejected"})


async def stream_upload_events(
    runtime: ServiceRuntime,
    *,
    tenant_id: uuid.UUID,
    upload_id: uuid.UUID,
    poll_seconds: float,
) -> AsyncIterator[ServerSentEvent]:
    """Yield a `progress` event per change, then one named after the final state."""
    sent: dict[str, object] | None = None
    sequence = 0
    while True:
        async with runtime.sessionmaker() as session, session.begin():
            upload = await repository.get_upload(
                session, tenant_id=tenant_id, upload_id=upload_id
            )
        if upload is None:
            return
        document = service.upload_summary(upload).model_dump(mode="json")
        final = upload.status in FINAL_STATES
        if document != sent or final:
            sequence += 1
            yield ServerSentEvent(
                data=json.dumps(document, separators=(",", ":")),
                event=upload.status if final else "progress",
                id=str(sequence),
            )
            sent = document
        if final:
            return
        await asyncio.sleep(poll_seconds)
