"""SQL on offers and assignments."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import Row, cast, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from matching.models import Assignment, AssignmentState, Offer, OfferState, VisitRequest
from shared.events.payloads import ReleaseReason


async def insert_accepted_offer(
    session: AsyncSession,
    *,
    offer_id: uuid.UUID,
    visit_id: uuid.UUID,
    agent_id: uuid.UUID,
    tenant_id: uuid.UUID,
    distance_m: float,
    ranking: dict[str, Any] | None,
    at: datetime,
) -> None:
    await session.execute(
        insert(Offer).values(
            ranking=ranking,
            offer_id=offer_id,
            visit_id=visit_id,
            agent_id=agent_id,
            tenant_id=tenant_id,
            state=OfferState.ACCEPTED,
            distance_m=distance_m,
            offered_at=at,
            responded_at=at,
        )
    )


async def insert_active_assignment(session: AsyncSession, **values: Any) -> None:
    await session.execute(
        insert(Assignment).values(state=AssignmentState.ACTIVE, **values)
    )


async def finish_assignment(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    visit_id: uuid.UUID,
    agent_id: uuid.UUID,
    at: datetime,
) -> uuid.UUID | None:
    """Move the visit's active assignment to done, or return None if it has none."""
    statement = (
        update(Assignment)
        .where(
            Assignment.tenant_id == tenant_id,
            Assignment.visit_id == visit_id,
            Assignment.agent_id == agent_id,
            Assignment.state == AssignmentState.ACTIVE,
        )
        .values(state=AssignmentState.DONE, ended_at=at)
        .returning(Assignment.assignment_id)
    )
    return await session.scalar(statement)


async def list_agent_assignments(
    session: AsyncSession,
    agent_id: uuid.UUID,
    *,
    state: AssignmentState | None,
    limit: int,
) -> Sequence[Row[Any]]:
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
        .where(Assignment.agent_id == agent_id)
        .order_by(Assignment.assigned_at.desc(), Assignment.assignment_id)
        .limit(limit)
    )
    if state is not None:
        query = query.where(Assignment.state == state)
    return (await session.execute(query)).all()


async def get_visit_assignment(
    session: AsyncSession, *, tenant_id: uuid.UUID, visit_id: uuid.UUID
) -> Row[Any] | None:
    """Return the visit's active assignment, else its latest one."""
    query = (
        select(
            Assignment.assignment_id,
            Assignment.visit_id,
            Assignment.agent_id,
            Assignment.state,
            Assignment.distance_m,
            Assignment.assigned_at,
        )
        .where(Assignment.tenant_id == tenant_id, Assignment.visit_id == visit_id)
        .order_by(
            (Assignment.state == AssignmentState.ACTIVE).desc(),
            Assignment.assigned_at.desc(),
        )
        .limit(1)
    )
    return (await session.execute(query)).first()


async def withdraw_open_offers(
    session: AsyncSession, visit_id: uuid.UUID, *, at: datetime
) -> int:
    result = await session.execute(
        update(Offer)
        .where(Offer.visit_id == visit_id, Offer.state == OfferState.OFFERED)
        .values(state=OfferState.WITHDRAWN, responded_at=at)
        .returning(Offer.offer_id)
    )
    return len(result.all())


async def release_assignment(
    session: AsyncSession, visit_id: uuid.UUID, *, at: datetime
) -> Row[Any] | None:
    """Move the visit's active assignment to released; return its agent and time.

    The row has `load_day` too: `candidates.assignment_day` reads the day
    whose capacity to give back from it.
    """
    statement = (
        update(Assignment)
        .where(
            Assignment.visit_id == visit_id,
            Assignment.state == AssignmentState.ACTIVE,
        )
        .values(
            state=AssignmentState.RELEASED,
            ended_at=at,
            release_reason=ReleaseReason.VISIT_WITHDRAWN,
        )
        .returning(
            Assignment.assignment_id,
            Assignment.agent_id,
            Assignment.assigned_at,
            Assignment.load_day,
            Assignment.tenant_id,
        )
    )
    return (await session.execute(statement)).first()


async def active_stops(
    session: AsyncSession, agent_id: uuid.UUID
) -> Sequence[Row[Any]]:
    """Return where and by when each of the agent's active visits must be made.

    Place, area, deadline, time zone and the campaign's visiting hours: what a
    day route needs, and no debtor data.
    """
    point = cast(VisitRequest.location, Geometry)
    query = (
        select(
            Assignment.visit_id,
            func.ST_Y(point).label("lat"),
            func.ST_X(point).label("lon"),
            VisitRequest.colonia,
            VisitRequest.municipality,
            VisitRequest.deadline,
            VisitRequest.time_zone,
            VisitRequest.visiting_start,
            VisitRequest.visiting_end,
            VisitRequest.visiting_days,
        )
        .join(VisitRequest, VisitRequest.visit_id == Assignment.visit_id)
        .where(
            Assignment.agent_id == agent_id,
            Assignment.state == AssignmentState.ACTIVE,
        )
        .order_by(Assignment.assigned_at, Assignment.visit_id)
    )
    return (await session.execute(query)).all()


async def unstarted_stops(
    session: AsyncSession, agent_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Row[Any]]]:
    """Return where each agent's active visits with no check-in yet are."""
    if not agent_ids:
        return {}
    point = cast(VisitRequest.location, Geometry)
    query = (
        select(
            Assignment.agent_id,
            func.ST_Y(point).label("lat"),
            func.ST_X(point).label("lon"),
        )
        .join(VisitRequest, VisitRequest.visit_id == Assignment.visit_id)
        .where(
            Assignment.agent_id.in_(agent_ids),
            Assignment.state == AssignmentState.ACTIVE,
            Assignment.checked_in_at.is_(None),
        )
        .order_by(Assignment.agent_id, Assignment.assigned_at, Assignment.visit_id)
    )
    stops: dict[uuid.UUID, list[Row[Any]]] = {}
    for row in (await session.execute(query)).all():
        stops.setdefault(row.agent_id, []).append(row)
    return stops
