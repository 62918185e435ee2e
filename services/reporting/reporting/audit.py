"""The log of reads of debtors' personal data, for the tenant's administrator.

Every service publishes a `campo.personal_data.read` record on `audit.v1`
after it showed an account, a visit or an upload report; this module keeps
them and answers `GET /audit`.
"""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import any_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.models import AuditRecord
from shared.api import AuditReader, SessionDep
from shared.errors import UnauthorizedError, UnprocessableError, problem_responses
from shared.events import Envelope
from shared.events.payloads import OperatorCommandRun, PersonalDataRead

router = APIRouter(tags=["audit"])

MAX_LIMIT = 500
OPERATOR_SERVICE = "campo-admin"


async def on_personal_data_read(
    session: AsyncSession, envelope: Envelope, payload: PersonalDataRead
) -> None:
    await session.execute(
        insert(AuditRecord)
        .values(
            audit_id=payload.audit_id,
            tenant_id=payload.tenant_id,
            actor=payload.actor,
            service=payload.service,
            resource=payload.resource,
            resource_ids=payload.resource_ids,
            visit_id=payload.visit_id,
            campaign_id=payload.campaign_id,
            read_at=payload.read_at,
        )
        .on_conflict_do_nothing()
    )


async def on_operator_command_run(
    session: AsyncSession, envelope: Envelope, payload: OperatorCommandRun
) -> None:
    """Store an operator's command in the same log, so that the administrator
    of the tenant it touched reads it next to the reads of personal data."""
    await session.execute(
        insert(AuditRecord)
        .values(
            audit_id=payload.audit_id,
            tenant_id=payload.tenant_id,
            actor=f"operator:{payload.operator}",
            service=OPERATOR_SERVICE,
            resource=f"command:{payload.command}",
            resource_ids=payload.target_ids,
            read_at=payload.run_at,
        )
        .on_conflict_do_nothing()
    )


class AuditEntry(BaseModel):
    audit_id: uuid.UUID
    actor: str = Field(
        description=(
            "`user:<id>`, `key:<id>` (an API key), `agent:<id>`, or "
            "`operator:<name>` for a platform operator's command."
        )
    )
    service: str
    resource: str = Field(
        description=(
            "account, account_history, visit, visit_photo, upload_report or "
            "campaign_export; `command:<name>` for an operator's command, "
            "whose resource_ids are the ids it touched."
        )
    )
    resource_ids: list[str]
    visit_id: uuid.UUID | None
    campaign_id: uuid.UUID | None
    read_at: datetime


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_before: datetime | None = Field(
        description="Pass as `before` for the next, older page; None at the end."
    )


@router.get(
    "/audit",
    summary="Who read debtors' personal data, newest first",
    description=(
        "One entry per read: the caller, the accounts, visits or upload "
        "reports it was shown, and when. Filter by `actor`, `resource` or "
        "`resource_id` (an account id, visit id or upload id)."
    ),
    responses=problem_responses(UnauthorizedError, UnprocessableError),
)
async def list_audit(
    tenant: AuditReader,
    session: SessionDep,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    resource: Annotated[str | None, Query(max_length=40)] = None,
    resource_id: Annotated[str | None, Query(max_length=100)] = None,
    since: AwareDatetime | None = None,
    before: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> AuditPage:
    if since is not None and before is not None and since >= before:
        raise UnprocessableError(
            f"since ({since.isoformat()}) is not before before "
            f"({before.isoformat()}); swap them or drop one"
        )
    query = select(AuditRecord).where(AuditRecord.tenant_id == tenant.tenant_id)
    if actor is not None:
        query = query.where(AuditRecord.actor == actor)
    if resource is not None:
        query = query.where(AuditRecord.resource == resource)
    if resource_id is not None:
        query = query.where(any_(AuditRecord.resource_ids) == resource_id)
    if since is not None:
        query = query.where(AuditRecord.read_at >= since)
    if before is not None:
        query = query.where(AuditRecord.read_at < before)
    query = query.order_by(AuditRecord.read_at.desc(), AuditRecord.audit_id).limit(
        limit + 1
    )
    async with session.begin():
        rows = list((await session.scalars(query)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        items=[AuditEntry.model_validate(row, from_attributes=True) for row in rows],
        next_before=rows[-1].read_at if more and rows else None,
    )
