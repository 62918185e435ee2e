"""SQL for campaigns and the accounts they select."""

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from geoalchemy2.functions import ST_X, ST_Y
from geoalchemy2.types import Geometry
from sqlalchemy import (
    ColumnElement,
    case,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from ingest.accounts.keys import key_in
from ingest.campaigns.schemas import Selection
from ingest.campaigns.states import Transition
from ingest.models import Account, Campaign, CampaignAccount

# PostgreSQL takes at most 32,767 parameters in one statement.
KEY_BATCH_SIZE = 10_000


def exclusion_flag() -> ColumnElement[Any]:
    """Return the flag keeping the account out of new visits, recall first, or NULL."""
    return case(
        (Account.recalled_at.is_not(None), "recalled"),
        (Account.do_not_contact_reason.is_not(None), "do_not_contact"),
        (Account.do_not_visit_reason.is_not(None), "do_not_visit"),
        else_=None,
    )


def _exclusion_reason() -> ColumnElement[Any]:
    return case(
        (Account.recalled_at.is_not(None), None),
        (Account.do_not_contact_reason.is_not(None), Account.do_not_contact_reason),
        else_=Account.do_not_visit_reason,
    )


def selection_filters(selection: Selection, now: datetime) -> list[ColumnElement[bool]]:
    """Return the WHERE conditions of a selection's filters, tenant scope apart."""
    conditions: list[ColumnElement[bool]] = []
    if selection.min_days_past_due is not None:
        conditions.append(Account.days_past_due >= selection.min_days_past_due)
    if selection.max_days_past_due is not None:
        conditions.append(Account.days_past_due <= selection.max_days_past_due)
    if selection.min_balance is not None:
        conditions.append(Account.balance_overdue >= selection.min_balance)
    if selection.max_balance is not None:
        conditions.append(Account.balance_overdue <= selection.max_balance)
    if selection.states is not None:
        conditions.append(Account.state.in_(selection.states))
    if selection.municipalities is not None:
        conditions.append(Account.municipality.in_(selection.municipalities))
    if selection.postal_codes is not None:
        conditions.append(Account.postal_code.in_(selection.postal_codes))
    if selection.tags is not None:
        conditions.append(Account.tags.overlap(selection.tags))
    if selection.last_visit_outcomes is not None:
        outcomes = [outcome.value for outcome in selection.last_visit_outcomes]
        conditions.append(Account.last_visit_outcome.in_(outcomes))
    if selection.not_visited_in_days is not None:
        since = now - timedelta(days=selection.not_visited_in_days)
        conditions.append(
            or_(Account.last_visited_at.is_(None), Account.last_visited_at < since)
        )
    return conditions


def _selection_batches(
    tenant_id: uuid.UUID, selection: Selection, now: datetime
) -> Iterator[list[ColumnElement[bool]]]:
    """Yield the WHERE clauses of the selection, one per batch of listed accounts."""
    scope = Account.tenant_id == tenant_id
    if selection.account_keys is not None:
        keys = list(dict.fromkeys(selection.account_keys))
        for start in range(0, len(keys), KEY_BATCH_SIZE):
            batch = keys[start : start + KEY_BATCH_SIZE]
            yield [scope, key_in(batch)]
    elif selection.account_ids is not None:
        ids = list(dict.fromkeys(selection.account_ids))
        for start in range(0, len(ids), KEY_BATCH_SIZE):
            batch_ids = ids[start : start + KEY_BATCH_SIZE]
            yield [scope, Account.account_id.in_(batch_ids)]
    else:
        yield [scope, *selection_filters(selection, now)]


async def select_accounts(
    session: AsyncSession, *, tenant_id: uuid.UUID, selection: Selection, now: datetime
) -> list[Any]:
    """Return (account_id, account_key, exclusion) of every matched account."""
    found: list[Any] = []
    for conditions in _selection_batches(tenant_id, selection, now):
        rows = await session.execute(
            select(
                Account.account_id,
                Account.account_key,
                exclusion_flag().label("exclusion"),
            ).where(*conditions)
        )
        found.extend(rows)
    return found


def _preview_columns() -> list[Any]:
    return [
        exclusion_flag().label("flag"),
        _exclusion_reason().label("reason"),
        Account.currency,
        func.count().label("accounts"),
        func.coalesce(func.sum(Account.balance_overdue), 0).label("balance"),
        func.count().filter(Account.location.is_(None)).label("without_location"),
    ]


def _grouped(query: Select[Any]) -> Select[Any]:
    # Grouped by the output labels: the CASE expressions repeated here would
    # carry new bind parameters, which PostgreSQL does not match to the select.
    return query.group_by(
        literal_column("flag"), literal_column("reason"), Account.currency
    ).order_by(Account.currency)


async def preview_selection(
    session: AsyncSession, *, tenant_id: uuid.UUID, selection: Selection, now: datetime
) -> list[Any]:
    """Count and sum the matched accounts, grouped by exclusion and currency."""
    groups: list[Any] = []
    for conditions in _selection_batches(tenant_id, selection, now):
        query = select(*_preview_columns()).where(*conditions)
        groups.extend(await session.execute(_grouped(query)))
    return groups


async def preview_campaign(session: AsyncSession, campaign_id: uuid.UUID) -> list[Any]:
    """Like `preview_selection`, over the accounts a campaign selected."""
    query = (
        select(*_preview_columns())
        .join(CampaignAccount, CampaignAccount.account_id == Account.account_id)
        .where(CampaignAccount.campaign_id == campaign_id)
    )
    return list(await session.execute(_grouped(query)))


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


async def apply_transition(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    campaign_id: uuid.UUID,
    transition: Transition,
    now: datetime,
) -> Campaign | None:
    """Move the campaign to the target state; None when its state rules it out."""
    values: dict[str, Any] = {"status": transition.target.value}
    if transition.action == "launch":
        values["launched_at"] = now
    elif transition.action == "pause":
        values["paused_at"] = now
    elif transition.target.value in ("cancelled", "completed"):
        values["ended_at"] = now
    moved = await session.execute(
        update(Campaign)
        .where(
            Campaign.campaign_id == campaign_id,
            Campaign.tenant_id == tenant_id,
            Campaign.status.in_([state.value for state in transition.sources]),
        )
        .values(**values)
        .returning(Campaign.campaign_id)
        .execution_options(synchronize_session=False)
    )
    if moved.first() is None:
        return None
    campaign = await get_campaign(session, tenant_id=tenant_id, campaign_id=campaign_id)
    if campaign is not None:
        await session.refresh(campaign)
    return campaign


def with_coordinates() -> list[Any]:
    geometry = func.cast(Account.location, Geometry)
    return [Account, ST_Y(geometry).label("lat"), ST_X(geometry).label("lon")]


async def accounts_to_visit(
    session: AsyncSession, *, campaign_id: uuid.UUID
) -> list[Any]:
    """Return the campaign's accounts with their coordinates and exclusion flag."""
    rows = await session.execute(
        select(
            CampaignAccount.id.label("selection_id"),
            *with_coordinates(),
            exclusion_flag().label("exclusion"),
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
