"""SQL for campaigns and the accounts they select."""

import uuid
from datetime import UTC, datetime
from typing import Any

from geoalchemy2.functions import ST_X, ST_Y
from geoalchemy2.types import Geometry
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from ingest.campaigns.schemas import Selection
from ingest.models import Account, Campaign, CampaignAccount


def _selection_query(tenant_id: uuid.UUID, selection: Selection) -> Select[Any]:
    query = select(Account.account_id, Account.account_key).where(
        Account.tenant_id == tenant_id
    )
    if selection.account_keys is not None:
        return query.where(Account.account_key.in_(selection.account_keys))
    if selection.states is not None:
        query = query.where(Account.state.in_(selection.states))
    if selection.min_days_past_due is not None:
        query = query.where(Account.days_past_due >= selection.min_days_past_due)
    return query


# PostgreSQL takes at most 32,767 parameters in one statement.
KEY_BATCH_SIZE = 10_000


async def select_accounts(
    session: AsyncSession, *, tenant_id: uuid.UUID, selection: Selection
) -> list[tuple[uuid.UUID, str]]:
    if selection.account_keys is None:
        rows = await session.execute(_selection_query(tenant_id, selection))
        return [(row.account_id, row.account_key) for row in rows]
    found: list[tuple[uuid.UUID, str]] = []
    keys = list(dict.fromkeys(selection.account_keys))
    for start in range(0, len(keys), KEY_BATCH_SIZE):
        batch = selection.model_copy(
            update={"account_keys": keys[start : start + KEY_BATCH_SIZE]}
        )
        rows = await session.execute(_selection_query(tenant_id, batch))
        found.extend((row.account_id, row.account_key) for row in rows)
    return found


async def insert_campaign(session: AsyncSession, campaign: Campaign) -> None:
    session.add(campaign)
    await session.flush()


async def insert_campaign_accounts(
    session: AsyncSession,
    *,
    campaign_id: uuid.UUID,
    tenant_id: uuid.UUID,
    account_ids: list[uuid.UUID],
) -> None:
    if account_ids:
        await session.execute(
            insert(CampaignAccount),
            [
                {"campaign_id": campaign_id, "tenant_id": tenant_id, "account_id": a}
                for a in account_ids
            ],
        )


async def get_campaign(
    session: AsyncSession, *, tenant_id: uuid.UUID, campaign_id: uuid.UUID
) -> Campaign | None:
    return await session.scalar(
        select(Campaign).where(
            Campaign.campaign_id == campaign_id, Campaign.tenant_id == tenant_id
        )
    )


async def list_campaigns(
    session: AsyncSession, *, tenant_id: uuid.UUID
) -> list[Campaign]:
    result = await session.scalars(
        select(Campaign)
        .where(Campaign.tenant_id == tenant_id)
        .order_by(Campaign.created_at.desc())
    )
    return list(result)


async def count_selected(
    session: AsyncSession, campaign_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(CampaignAccount.campaign_id, func.count())
        .where(CampaignAccount.campaign_id.in_(campaign_ids))
        .group_by(CampaignAccount.campaign_id)
    )
    return {row[0]: row[1] for row in rows}


async def mark_launched(
    session: AsyncSession, *, tenant_id: uuid.UUID, campaign_id: uuid.UUID
) -> Campaign | None:
    """Move a draft to launched; return None when the campaign was not a draft."""
    launched = await session.execute(
        update(Campaign)
        .where(
            Campaign.campaign_id == campaign_id,
            Campaign.tenant_id == tenant_id,
            Campaign.status == "draft",
        )
        .values(status="launched", launched_at=datetime.now(UTC))
        .returning(Campaign.campaign_id)
    )
    if launched.first() is None:
        return None
    return await get_campaign(session, tenant_id=tenant_id, campaign_id=campaign_id)


async def accounts_to_visit(
    session: AsyncSession, *, campaign_id: uuid.UUID
) -> list[Any]:
    """Return the campaign's accounts with their coordinates, for the visit requests."""
    geometry = func.cast(Account.location, Geometry)
    rows = await session.execute(
        select(
            CampaignAccount.id.label("selection_id"),
            Account,
            ST_Y(geometry).label("lat"),
            ST_X(geometry).label("lon"),
        )
        .join(Account, Account.account_id == CampaignAccount.account_id)
        .where(CampaignAccount.campaign_id == campaign_id)
        .order_by(CampaignAccount.id)
    )
    return list(rows)


async def set_visit_ids(
    session: AsyncSession, assignments: list[dict[str, Any]]
) -> None:
    """Store each selection's minted visit id, or why it was left out."""
    if assignments:
        await session.execute(update(CampaignAccount), assignments)
