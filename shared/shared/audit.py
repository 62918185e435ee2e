"""The audit trail of reads of debtors' personal data.

Each service records, after a successful read, who read which accounts,
visits or uploads; the record travels on `audit.v1` through the outbox, and
reporting keeps the log a tenant's administrator queries. The record is
written in a transaction of its own, so a read that found nothing records
nothing.
"""

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from uuid import UUID

from shared.events.payloads import PersonalDataRead
from shared.runtime import ServiceRuntime

MAX_IDS_PER_RECORD = 500


async def record_read(
    runtime: ServiceRuntime,
    *,
    tenant_id: UUID,
    actor: str,
    resource: str,
    resource_ids: Iterable[object],
    visit_id: UUID | None = None,
    campaign_id: UUID | None = None,
) -> None:
    """Publish one audit record; a list read past 500 ids records the first 500."""
    ids = [str(value) for value in resource_ids][:MAX_IDS_PER_RECORD]
    if not ids:
        return
    async with runtime.sessionmaker() as session, session.begin():
        await runtime.emit(
            session,
            PersonalDataRead(
                tenant_id=tenant_id,
                audit_id=uuid.uuid4(),
                actor=actor,
                service=runtime.name,
                resource=resource,
                resource_ids=ids,
                visit_id=visit_id,
                campaign_id=campaign_id,
                read_at=datetime.now(UTC),
            ),
        )
    runtime.relay.notify()
