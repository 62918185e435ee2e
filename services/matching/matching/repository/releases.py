"""SQL on assignments that end early, on check-ins, and on a suspended agent's work.

Every writer here runs after `lock_request` on the visit, in the same
transaction, like the other writers of a visit's offers and assignments.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from matching.models import Assignment, AssignmentState, Offer, OfferState
from shared.events.payloads import ReleaseReason

_RELEASED_COLUMNS = (
    Assignment.assignment_id,
    Assignment.visit_id,
    Assignment.agent_id,
    Assignment.tenant_id,
    Assignment.assigned_at,
    Assignment.load_day,
    Assignment.ended_at,
)


async def latest_agent_assignment(
    session: AsyncSession, *, visit_id: uuid.UUID, agent_id: uuid.UUID
) -> Row[Any] | None:
    """Return the agent's assignment of the visit, the active one or else the latest."""
    query = (
        select(
            Assignment.assignment_id,
            Assignment.offer_id,
            Assignment.state,
            Assignment.checked_in_at,
            Assignment.release_reason,
            Assignment.ended_at,
        )
        .where(Assignment.visit_id == visit_id, Assignment.agent_id == agent_id)
        .order_by(
            (Assignment.state == AssignmentState.ACTIVE).desc(),
            Assignment.assigned_at.desc(),
        )
        .limit(1)
    )
    return (await session.execute(query)).first()


async def release_unstarted_assignment(
    session: AsyncSession,
    assignment_id: uuid.UUID,
    *,
    reason: ReleaseReason,
    at: datetime,
    note: str | None = None,
) -> Row[Any] | None:
    """Release an active assignment with no check-in; None when it is not one."""
    statement = (
        update(Assignment)
        .where(
            Assignment.assignment_id == assignment_id,
            Assignment.state == AssignmentState.ACTIVE,
            Assignment.checked_in_at.is_(None),
        )
        .values(
            state=AssignmentState.RELEASED,
            ended_at=at,
            release_reason=reason,
            release_note=note,
        )
        .returning(*_RELEASED_COLUMNS)
    )
    return (await session.execute(statement)).first()


async def record_check_in(
    session: AsyncSession,
    *,
    visit_id: uuid.UUID,
    agent_id: uuid.UUID,
    at: datetime,
) -> uuid.UUID | None:
    """Store the first check-in on the agent's active assignment of the visit.

    Returns the assignment's id, or None when the agent holds no active
    assignment of the visit (it was released, or never was theirs).
    """
    statement = (
        update(Assignment)
        .where(
            Assignment.visit_id == visit_id,
            Assignment.agent_id == agent_id,
            Assignment.state == AssignmentState.ACTIVE,
        )
        # A repeated or late event never moves the first check-in later.
        .values(
            checked_in_at=func.least(func.coalesce(Assignment.checked_in_at, at), at)
        )
        .returning(Assignment.assignment_id)
    )
    return await session.scalar(statement)


async def lapsed_assignments(
    session: AsyncSession, *, now: datetime, limit: int
) -> Sequence[Row[Any]]:
    """Return active assignments past `check_in_by` with no check-in, earliest first."""
    query = (
        select(Assignment.assignment_id, Assignment.visit_id)
        .where(
            Assignment.state == AssignmentState.ACTIVE,
            Assignment.checked_in_at.is_(None),
            Assignment.check_in_by <= now,
        )
        .order_by(Assignment.check_in_by, Assignment.assignment_id)
        .limit(limit)
    )
    return (await session.execute(query)).all()


async def assignment_visit(
    session: AsyncSession, assignment_id: uuid.UUID
) -> uuid.UUID | None:
    return await session.scalar(
        select(Assignment.visit_id).where(Assignment.assignment_id == assignment_id)
    )


async def agent_open_offer_visits(
    session: AsyncSession, agent_id: uuid.UUID
) -> list[uuid.UUID]:
    """Return the visits the agent has an open offer of, in visit id order."""
    query = (
        select(Offer.visit_id)
        .where(Offer.agent_id == agent_id, Offer.state == OfferState.OFFERED)
        .order_by(Offer.visit_id)
    )
    return list((await session.scalars(query)).all())


async def agent_active_assignments(
    session: AsyncSession, agent_id: uuid.UUID
) -> Sequence[Row[Any]]:
    """Return the agent's active assignments, in visit id order."""
    query = (
        select(Assignment.assignment_id, Assignment.visit_id, Assignment.checked_in_at)
        .where(
            Assignment.agent_id == agent_id,
            Assignment.state == AssignmentState.ACTIVE,
        )
        .order_by(Assignment.visit_id)
    )
    return (await session.execute(query)).all()


async def withdraw_agent_offer(
    session: AsyncSession, *, visit_id: uuid.UUID, agent_id: uuid.UUID, at: datetime
) -> uuid.UUID | None:
    """Withdraw the agent's open offer of the visit; None when none is open."""
    statement = (
        update(Offer)
        .where(
            Offer.visit_id == visit_id,
            Offer.agent_id == agent_id,
            Offer.state == OfferState.OFFERED,
        )
        .values(state=OfferState.WITHDRAWN, responded_at=at)
        .returning(Offer.offer_id)
    )
    return await session.scalar(statement)
