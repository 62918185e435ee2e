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
    """Publish the audit records of one read, one per 500 ids.

    A page can show more ids than one record carries (GET /accounts shows up
    to 1,000), so every id lands in some record.
    """
    ids = [str(value) for value in resource_ids]
    if not ids:
        return
    read_at = datetime.now(UTC)
    async with runtime.sessionmaker() as session, session.begin():
        for start in range(0, len(ids), MAX_IDS_PER_RECORD):
            await runtime.emit(
                session,
                PersonalDataRead(
                    tenant_id=tenant_id,
                    audit_id=uuid.uuid4(),
                    actor=actor,
                    service=runtime.name,
                    resource=resource,
                    resource_ids=ids[start : start + MAX_IDS_PER_RECORD],
                    visit_id=visit_id,
                    campaign_id=campaign_id,
                    read_at=read_at,
                ),
            )
    runtime.relay.notify()
