"""SQL on visit requests."""

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import Row, and_, cast, exists, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from matching.models import Offer, OfferState, RequestState, VisitRequest
from matching.repository.agents import wkt_point

_DISPATCH_COLUMNS = (
    VisitRequest.visit_id,
    VisitRequest.tenant_id,
    func.ST_Y(cast(VisitRequest.location, Geometry)).label("lat"),
    func.ST_X(cast(VisitRequest.location, Geometry)).label("lon"),
    VisitRequest.deadline,
    VisitRequest.dispatch_mode,
    VisitRequest.offer_timeout_seconds,
    VisitRequest.broadcast_size,
    VisitRequest.wait_until,
    VisitRequest.max_wait_seconds,
    VisitRequest.time_zone,
    VisitRequest.visiting_start,
    VisitRequest.visiting_end,
    VisitRequest.visiting_days,
    VisitRequest.marketplace_from,
    VisitRequest.max_travel_minutes,
)


async def insert_visit_request(
    session: AsyncSession, *, lat: float, lon: float, **values: Any
) -> bool:
    """Insert a pending request, or return False when the visit is already stored."""
    statement = (
        insert(VisitRequest)
        .values(location=wkt_point(lat, lon), state=RequestState.PENDING, **values)
        .on_conflict_do_nothing(index_elements=[VisitRequest.visit_id])
        .returning(VisitRequest.visit_id)
    )
    return (await session.execute(statement)).first() is not None


async def lock_pending_request(
    session: AsyncSession, visit_id: uuid.UUID
) -> Row[Any] | None:
    """Lock a pending request for dispatch.

    Returns None when the request is not pending or another transaction has
    it locked: SKIP LOCKED lets the retry task pass over a request that the
    consumer is dispatching instead of waiting for it.
    """
    query = (
        select(*_DISPATCH_COLUMNS)
        .where(
            VisitRequest.visit_id == visit_id,
            VisitRequest.state == RequestState.PENDING,
        )
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(query)).first()


async def lock_request(
    session: AsyncSession, visit_id: uuid.UUID, *, skip_locked: bool = False
) -> Row[Any] | None:
    """Lock a request in any state; every writer of its offers takes this first.

    Taking the request's lock before any offer row keeps one lock order for
    dispatch, answers, expiry and withdrawal, so they cannot deadlock.
    """
    query = (
        select(*_DISPATCH_COLUMNS, VisitRequest.state)
        .where(VisitRequest.visit_id == visit_id)
        .with_for_update(skip_locked=skip_locked)
    )
    return (await session.execute(query)).first()


async def due_requests(
    session: AsyncSession, *, now: datetime, limit: int
) -> Sequence[uuid.UUID]:
    """Return requests with an offer past its expiry or a wait that is over.

    Pending requests whose staff-only time is over are due too, so platform
    agents see them at once rather than at the next pending pass.
    """
    overdue_offer = exists().where(
        Offer.visit_id == VisitRequest.visit_id,
        Offer.state == OfferState.OFFERED,
        Offer.expires_at <= now,
    )
    waiting = VisitRequest.state.in_([RequestState.PENDING, RequestState.OFFERED])
    query = (
        select(VisitRequest.visit_id)
        .where(
            waiting,
            or_(
                and_(VisitRequest.state == RequestState.OFFERED, overdue_offer),
                VisitRequest.wait_until <= now,
                VisitRequest.deadline <= now,
                # Staff had their turn: platform agents may now take the visit.
                and_(
                    VisitRequest.state == RequestState.PENDING,
                    VisitRequest.marketplace_from <= now,
                ),
            ),
        )
        .order_by(VisitRequest.deadline, VisitRequest.visit_id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def set_wait_until(
    session: AsyncSession, visit_id: uuid.UUID, wait_until: datetime
) -> None:
    """Set when a request no agent takes ends out of coverage."""
    await session.execute(
        update(VisitRequest)
        .where(VisitRequest.visit_id == visit_id)
        .values(wait_until=wait_until)
    )


async def open_marketplace(session: AsyncSession, visit_id: uuid.UUID) -> None:
    """Clear the staff-only time of a request, once it is over and dispatched."""
    await session.execute(
        update(VisitRequest)
        .where(VisitRequest.visit_id == visit_id)
        .values(marketplace_from=None)
    )


async def transition_request(
    session: AsyncSession,
    visit_id: uuid.UUID,
    *,
    source: RequestState,
    target: RequestState,
    at: datetime,
) -> bool:
    statement = (
        update(VisitRequest)
        .where(VisitRequest.visit_id == visit_id, VisitRequest.state == source)
        .values(state=target, decided_at=at)
        .returning(VisitRequest.visit_id)
    )
    return (await session.execute(statement)).first() is not None


async def request_state(session: AsyncSession, visit_id: uuid.UUID) -> str | None:
    return await session.scalar(
        select(VisitRequest.state).where(VisitRequest.visit_id == visit_id)
    )


async def pending_requests(
    session: AsyncSession,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    modes: Collection[str] | None = None,
) -> Sequence[Row[Any]]:
    """Return pending requests by deadline, then visit id, from after `after`.

    `modes` keeps only the requests of those dispatch modes; None keeps all.
    """
    query = (
        select(VisitRequest.deadline, VisitRequest.visit_id)
        .where(VisitRequest.state == RequestState.PENDING)
        .order_by(VisitRequest.deadline, VisitRequest.visit_id)
        .limit(limit)
    )
    if modes is not None:
        query = query.where(VisitRequest.dispatch_mode.in_(modes))
    if after is not None:
        query = query.where(
            tuple_(VisitRequest.deadline, VisitRequest.visit_id) > tuple_(*after)
        )
    return (await session.execute(query)).all()


async def cancel_request(
    session: AsyncSession, visit_id: uuid.UUID, *, at: datetime
) -> bool:
    """Cancel a request still open; False when it is done, unmatched or cancelled."""
    statement = (
        update(VisitRequest)
        .where(
            VisitRequest.visit_id == visit_id,
            VisitRequest.state.in_(
                [RequestState.PENDING, RequestState.OFFERED, RequestState.ASSIGNED]
            ),
        )
        .values(state=RequestState.CANCELLED, decided_at=at)
        .returning(VisitRequest.visit_id)
    )
    return (await session.execute(statement)).first() is not None


async def batchable_requests(
    session: AsyncSession,
    *,
    modes: Collection[str],
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """Return pending requests of `modes` with their dispatch columns, unlocked.

    They come by deadline, then visit id, from after `after`. The batch pass
    reads them all before it solves, and locks each one only to place it.
    """
    query = (
        select(*_DISPATCH_COLUMNS)
        .where(
            VisitRequest.state == RequestState.PENDING,
            VisitRequest.dispatch_mode.in_(modes),
        )
        .order_by(VisitRequest.deadline, VisitRequest.visit_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(
            tuple_(VisitRequest.deadline, VisitRequest.visit_id) > tuple_(*after)
        )
    return (await session.execute(query)).all()
