"""SQL on open offers and the answers to them.

Every writer here runs after `lock_request` on the offer's visit, in the
same transaction, so answers, expiry and dispatch of one visit take turns.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from matching.models import Assignment, Offer, OfferState, VisitRequest


async def insert_open_offer(session: AsyncSession, **values: Any) -> None:
    await session.execute(insert(Offer).values(state=OfferState.OFFERED, **values))


async def get_agent_offer(
    session: AsyncSession, *, offer_id: uuid.UUID, agent_id: uuid.UUID
) -> Row[Any] | None:
    """Return the offer when it was made to this agent, else None."""
    query = select(
        Offer.offer_id,
        Offer.visit_id,
        Offer.agent_id,
        Offer.tenant_id,
        Offer.state,
        Offer.distance_m,
        Offer.offered_at,
        Offer.expires_at,
        Offer.responded_at,
        Offer.decline_reason,
    ).where(Offer.offer_id == offer_id, Offer.agent_id == agent_id)
    return (await session.execute(query)).first()


async def close_offer(
    session: AsyncSession,
    offer_id: uuid.UUID,
    *,
    target: OfferState,
    at: datetime,
    **values: Any,
) -> bool:
    """Move an open offer to `target`; False when it was no longer open."""
    statement = (
        update(Offer)
        .where(Offer.offer_id == offer_id, Offer.state == OfferState.OFFERED)
        .values(state=target, responded_at=at, **values)
        .returning(Offer.offer_id)
    )
    return (await session.execute(statement)).first() is not None


async def expire_overdue_offers(
    session: AsyncSession, visit_id: uuid.UUID, *, now: datetime
) -> Sequence[Row[Any]]:
    """Expire the visit's open offers whose time ran out; return them."""
    statement = (
        update(Offer)
        .where(
            Offer.visit_id == visit_id,
            Offer.state == OfferState.OFFERED,
            Offer.expires_at <= now,
        )
        .values(state=OfferState.EXPIRED, responded_at=now)
        .returning(Offer.offer_id, Offer.agent_id, Offer.tenant_id)
    )
    return (await session.execute(statement)).all()


async def open_offer_count(session: AsyncSession, visit_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).where(
            Offer.visit_id == visit_id, Offer.state == OfferState.OFFERED
        )
    )
    return count or 0


async def list_open_offers(
    session: AsyncSession, agent_id: uuid.UUID, *, now: datetime, limit: int
) -> Sequence[Row[Any]]:
    """Return the agent's offers still open at `now`, the soonest to expire first."""
    query = (
        select(
            Offer.offer_id,
            Offer.visit_id,
            Offer.tenant_id,
            Offer.distance_m,
            Offer.offered_at,
            Offer.expires_at,
            VisitRequest.dispatch_mode,
            VisitRequest.colonia,
            VisitRequest.municipality,
            VisitRequest.address_state,
            VisitRequest.fee_amount,
            VisitRequest.fee_currency,
            VisitRequest.deadline,
        )
        .join(VisitRequest, VisitRequest.visit_id == Offer.visit_id)
        .where(
            Offer.agent_id == agent_id,
            Offer.state == OfferState.OFFERED,
            Offer.expires_at > now,
        )
        .order_by(Offer.expires_at, Offer.offer_id)
        .limit(limit)
    )
    return (await session.execute(query)).all()


async def assignment_of_offer(
    session: AsyncSession, offer_id: uuid.UUID
) -> Row[Any] | None:
    """Return the assignment made from an accepted offer, with its visit's terms."""
    query = (
        select(
            Assignment.assignment_id,
            Assignment.visit_id,
            Assignment.tenant_id,
            Assignment.state,
            VisitRequest.colonia,
            VisitRequest.municipality,
            Assignment.distance_m,
            VisitRequest.fee_amount,
            VisitRequest.fee_currency,
            VisitRequest.deadline,
            Assignment.assigned_at,
            Assignment.check_in_by,
            Assignment.checked_in_at,
            Assignment.release_reason,
            Assignment.ended_at,
        )
        .join(VisitRequest, VisitRequest.visit_id == Assignment.visit_id)
        .where(Assignment.offer_id == offer_id)
    )
    return (await session.execute(query)).first()


async def offer_counts(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, int]:
    """Count the tenant's offers in each state."""
    query = (
        select(Offer.state, func.count())
        .where(Offer.tenant_id == tenant_id)
        .group_by(Offer.state)
    )
    return {state: count for state, count in (await session.execute(query)).all()}


async def list_visit_offers(
    session: AsyncSession, *, tenant_id: uuid.UUID, visit_id: uuid.UUID
) -> Sequence[Row[Any]] | None:
    """Return the visit's offers in the order they were made, else None.

    Offers made together (a broadcast) come in the order of their rank. None
    means the tenant has no such visit.
    """
    known = await session.scalar(
        select(VisitRequest.visit_id).where(
            VisitRequest.visit_id == visit_id, VisitRequest.tenant_id == tenant_id
        )
    )
    if known is None:
        return None
    query = (
        select(
            Offer.offer_id,
            Offer.agent_id,
            Offer.state,
            Offer.distance_m,
            Offer.offered_at,
            Offer.expires_at,
            Offer.responded_at,
            Offer.decline_reason,
            Offer.ranking,
        )
        .where(Offer.visit_id == visit_id, Offer.tenant_id == tenant_id)
        .order_by(
            Offer.offered_at,
            Offer.ranking["rank"].as_integer().nulls_last(),
            Offer.offer_id,
        )
    )
    return (await session.execute(query)).all()
