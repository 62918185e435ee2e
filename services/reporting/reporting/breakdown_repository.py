"""SQL of the figures broken down by agent, zone and day, and of the leaderboard.

Every query is scoped to one tenant, so a row never mixes tenants.
"""

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Row,
    and_,
    cast,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.figure_columns import agent_of_visit, figure_columns
from reporting.models import Campaign, VisitFact, common

fact = VisitFact

# The zone columns of each level; a municipality name repeats across states.
ZONE_KEYS: dict[str, tuple[Any, ...]] = {
    "state": (fact.address_state,),
    "municipality": (fact.address_state, fact.municipality),
    "postal_code": (fact.postal_code,),
}

# Each figure counts on the time of its own event; these are those times.
EVENT_TIMES = (
    fact.requested_at,
    fact.assigned_at,
    fact.first_check_in_at,
    fact.first_verified_check_in_at,
    fact.completed_at,
    fact.rejected_at,
    fact.out_of_coverage_at,
    fact.expired_at,
    fact.cancelled_at,
)


def _scope(tenant_id: uuid.UUID, campaign_id: uuid.UUID | None) -> list[Any]:
    conditions = [fact.tenant_id == tenant_id]
    if campaign_id is not None:
        conditions.append(fact.campaign_id == campaign_id)
    return conditions


async def figures_by_agent(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    campaign_id: uuid.UUID | None,
    currency: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Sequence[Row[Any]]:
    """Compute each agent's figures, optionally only for events in [start, end)."""
    when = None
    conditions = [*_scope(tenant_id, campaign_id), agent_of_visit.is_not(None)]
    if start is not None and end is not None:

        def when(at: ColumnElement[Any]) -> ColumnElement[bool]:
            return and_(at >= start, at < end)

        # Every event follows the request, so a row with none in the period
        # was requested after it ended.
        conditions.append(fact.requested_at < end)
        conditions.append(or_(*[when(at) for at in EVENT_TIMES]))
    agent = agent_of_visit.label("agent_id")
    query = (
        select(agent, *figure_columns(currency, when))
        .where(*conditions)
        .group_by(agent)
    )
    return (await session.execute(query)).all()


async def figures_by_zone(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    campaign_id: uuid.UUID,
    *,
    level: str,
    currency: str,
) -> Sequence[Row[Any]]:
    """Compute the figures of each zone of `level` where the campaign has visits."""
    keys = ZONE_KEYS[level]
    query = (
        select(*keys, *figure_columns(currency))
        .where(*_scope(tenant_id, campaign_id))
        .group_by(*keys)
    )
    return (await session.execute(query)).all()


async def figures_by_day(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    campaign_id: uuid.UUID,
    *,
    time_zone: str,
    first_day: date,
    last_day: date,
    currency: str,
) -> Sequence[Row[Any]]:
    """Compute each local day's figures from `first_day` to `last_day` included.

    A visit appears on every day one of its events happened, and on each day
    only the figures of the events of that day count it.
    """

    def local_day(at: ColumnElement[Any]) -> ColumnElement[date]:
        return cast(func.timezone(time_zone, at), Date)

    event_days = func.unnest(array([local_day(at) for at in EVENT_TIMES]))
    pairs = (
        select(fact.visit_id, event_days.label("day"))
        .where(*_scope(tenant_id, campaign_id))
        .subquery()
    )
    days = (
        select(pairs.c.visit_id, pairs.c.day)
        .where(pairs.c.day >= first_day, pairs.c.day <= last_day)
        .distinct()
        .subquery()
    )
    # The day's bounds as instants, so that each figure compares times
    # instead of converting every event time to a local date again.
    bounded = select(
        days.c.visit_id,
        days.c.day,
        func.timezone(time_zone, cast(days.c.day, DateTime)).label("starts"),
        func.timezone(time_zone, cast(days.c.day + 1, DateTime)).label("ends"),
    ).subquery()

    def when(at: ColumnElement[Any]) -> ColumnElement[bool]:
        return and_(at >= bounded.c.starts, at < bounded.c.ends)

    query = (
        select(bounded.c.day, *figure_columns(currency, when))
        .select_from(bounded.join(fact, fact.visit_id == bounded.c.visit_id))
        .group_by(bounded.c.day)
        .order_by(bounded.c.day)
    )
    return (await session.execute(query)).all()


async def campaign_known(
    session: AsyncSession, tenant_id: uuid.UUID, campaign_id: uuid.UUID
) -> bool:
    """Tell whether the tenant has the campaign, launched or seen in a visit."""
    launched = select(Campaign.campaign_id).where(
        Campaign.tenant_id == tenant_id, Campaign.campaign_id == campaign_id
    )
    visited = select(fact.visit_id).where(*_scope(tenant_id, campaign_id))
    found = await session.scalar(select(exists(launched) | exists(visited)))
    return bool(found)


async def tenant_country(session: AsyncSession, tenant_id: uuid.UUID) -> str | None:
    tenants = common.tenants
    return await session.scalar(
        select(tenants.c.country).where(tenants.c.tenant_id == tenant_id)
    )
