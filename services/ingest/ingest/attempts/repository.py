"""SQL for the visits campaigns requested and the revisits they scheduled."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.campaigns.repository import exclusion_flag, with_coordinates
from ingest.models import Account, Campaign, CampaignVisit, Revisit

REQUESTED = "requested"
WITHDRAWN = "withdrawn"
COMPLETED = "completed"


async def insert_visits(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(CampaignVisit), rows)


async def withdraw_open(
    session: AsyncSession,
    condition: ColumnElement[bool],
    *,
    reason: str,
    now: datetime,
) -> list[Any]:
    """Mark every requested visit matching `condition` withdrawn and return them."""
    rows = await session.execute(
        update(CampaignVisit)
        .where(condition, CampaignVisit.state == REQUESTED)
        .values(state=WITHDRAWN, withdrawn_at=now, withdrawal_reason=reason)
        .returning(
            CampaignVisit.visit_id,
            CampaignVisit.tenant_id,
            CampaignVisit.campaign_id,
            CampaignVisit.account_id,
        )
    )
    return list(rows)


async def cancel_scheduled_revisits(
    session: AsyncSession, condition: ColumnElement[bool], *, reason: str, now: datetime
) -> int:
    result = await session.execute(
        update(Revisit)
        .where(condition, Revisit.state == "scheduled")
        .values(state="cancelled", skip_reason=reason, decided_at=now)
        .returning(Revisit.revisit_id)
    )
    return len(result.all())


async def withdrawn_by_pause(
    session: AsyncSession, campaign_id: uuid.UUID, paused_at: datetime
) -> list[Any]:
    """Return the visits the latest pause withdrew, with their accounts."""
    rows = await session.execute(
        select(
            CampaignVisit.attempt,
            *with_coordinates(),
            exclusion_flag().label("exclusion"),
        )
        .join(Account, Account.account_id == CampaignVisit.account_id)
        .where(
            CampaignVisit.campaign_id == campaign_id,
            CampaignVisit.state == WITHDRAWN,
            CampaignVisit.withdrawal_reason == "campaign_paused",
            CampaignVisit.withdrawn_at >= paused_at,
        )
        .order_by(CampaignVisit.requested_at)
    )
    return list(rows)


async def complete_visit(
    session: AsyncSession,
    visit_id: uuid.UUID,
    *,
    tenant_id: uuid.UUID,
    person_met: str,
    completed_at: datetime,
) -> Any | None:
    """Record a visit's outcome; a withdrawn visit the agent finished counts too."""
    row = await session.execute(
        update(CampaignVisit)
        .where(
            CampaignVisit.visit_id == visit_id,
            CampaignVisit.tenant_id == tenant_id,
            CampaignVisit.state.in_([REQUESTED, WITHDRAWN]),
        )
        .values(state=COMPLETED, completed_at=completed_at, person_met=person_met)
        .returning(
            CampaignVisit.campaign_id, CampaignVisit.account_id, CampaignVisit.attempt
        )
    )
    return row.first()


async def person_met_of(session: AsyncSession, visit_id: uuid.UUID) -> str | None:
    return await session.scalar(
        select(CampaignVisit.person_met).where(CampaignVisit.visit_id == visit_id)
    )


async def record_last_visit(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    person_met: str,
    completed_at: datetime,
) -> None:
    """Store the outcome on the account unless a later visit is already there."""
    await session.execute(
        update(Account)
        .where(
            Account.account_id == account_id,
            (Account.last_visited_at.is_(None))
            | (Account.last_visited_at < completed_at),
        )
        .values(last_visit_outcome=person_met, last_visited_at=completed_at)
    )


async def completed_attempts(
    session: AsyncSession, *, campaign_id: uuid.UUID, account_id: uuid.UUID
) -> int:
    count = await session.scalar(
        select(func.count()).where(
            CampaignVisit.campaign_id == campaign_id,
            CampaignVisit.account_id == account_id,
            CampaignVisit.state == COMPLETED,
        )
    )
    return count or 0


async def campaign_status(session: AsyncSession, campaign_id: uuid.UUID) -> str | None:
    return await session.scalar(
        select(Campaign.status).where(Campaign.campaign_id == campaign_id)
    )


async def schedule_revisit(session: AsyncSession, **values: Any) -> bool:
    """Insert a scheduled revisit; False when that visit already scheduled one."""
    inserted = await session.execute(
        insert(Revisit)
        .values(revisit_id=uuid.uuid4(), state="scheduled", **values)
        .on_conflict_do_nothing(index_elements=[Revisit.previous_visit_id])
        .returning(Revisit.revisit_id)
    )
    return inserted.first() is not None


async def lock_due_revisits(
    session: AsyncSession, *, now: datetime, limit: int
) -> list[Any]:
    """Lock due revisits of launched campaigns, skipping rows another loop holds."""
    rows = await session.execute(
        select(
            Revisit, Campaign, *with_coordinates(), exclusion_flag().label("exclusion")
        )
        .join(Campaign, Campaign.campaign_id == Revisit.campaign_id)
        .join(Account, Account.account_id == Revisit.account_id)
        .where(
            Revisit.state == "scheduled",
            Revisit.due_at <= now,
            Campaign.status == "launched",
        )
        .order_by(Revisit.due_at)
        .limit(limit)
        .with_for_update(of=Revisit, skip_locked=True)
    )
    return list(rows)


async def visits_since(
    session: AsyncSession, account_id: uuid.UUID, since: datetime
) -> list[datetime]:
    """Return when each visit not withdrawn was requested for the account since then."""
    rows = await session.scalars(
        select(CampaignVisit.requested_at)
        .where(
            and_(
                CampaignVisit.account_id == account_id,
                CampaignVisit.requested_at > since,
                CampaignVisit.state != WITHDRAWN,
            )
        )
        .order_by(CampaignVisit.requested_at)
    )
    return list(rows)


async def finish_revisit(
    session: AsyncSession, revisit_id: uuid.UUID, **values: Any
) -> None:
    await session.execute(
        update(Revisit).where(Revisit.revisit_id == revisit_id).values(**values)
    )
