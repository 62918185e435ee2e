"""SQL of photo evidence, fraud signals and reviews."""

from datetime import datetime
from typing import Any
from uuid import UUID

from geoalchemy2 import Geometry
from sqlalchemy import Row, and_, bindparam, cast, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from visits.models import CheckIn, Photo, Review, Visit
from visits.states import VisitState

WGS84 = 4326

# --- photos -----------------------------------------------------------------


async def photo_by_hash(
    session: AsyncSession, visit_id: UUID, sha256: str
) -> Photo | None:
    return await session.scalar(
        select(Photo).where(Photo.visit_id == visit_id, Photo.sha256 == sha256)
    )


async def lock_agent_visit_state(
    session: AsyncSession, visit_id: UUID, agent_id: UUID
) -> str | None:
    """Lock the agent's visit row until the transaction ends; return its state.

    A result filed meanwhile holds the same row lock, so the state read here
    is the one the photo is inserted under.
    """
    statement = (
        select(Visit.state)
        .where(Visit.visit_id == visit_id, Visit.agent_id == agent_id)
        .with_for_update()
    )
    return await session.scalar(statement)


async def insert_photo(session: AsyncSession, **values: Any) -> Photo | None:
    """Insert a photo row; None when the visit already has these bytes."""
    statement = (
        pg_insert(Photo)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[Photo.visit_id, Photo.sha256])
        .returning(Photo)
    )
    return (await session.scalars(statement)).first()


async def tenant_photo(
    session: AsyncSession, tenant_id: UUID, visit_id: UUID, photo_id: UUID
) -> Photo | None:
    return await session.scalar(
        select(Photo).where(
            Photo.photo_id == photo_id,
            Photo.visit_id == visit_id,
            Photo.tenant_id == tenant_id,
        )
    )


async def photos_of(
    session: AsyncSession, visit_id: UUID, *, agent_id: UUID | None = None
) -> list[Photo]:
    """Return the visit's photos, only those `agent_id` uploaded when given."""
    statement = (
        select(Photo)
        .where(Photo.visit_id == visit_id)
        .order_by(Photo.uploaded_at, Photo.photo_id)
    )
    if agent_id is not None:
        statement = statement.where(Photo.agent_id == agent_id)
    return list((await session.scalars(statement)).all())


# --- fraud signals ----------------------------------------------------------


def _check_in_columns(check_ins: Any) -> tuple[Any, ...]:
    geometry = cast(check_ins.c.location, Geometry(srid=WGS84))
    return (
        check_ins.c.visit_id,
        check_ins.c.distance_m,
        check_ins.c.accuracy_m,
        check_ins.c.mock_location,
        check_ins.c.device_time,
        check_ins.c.server_time,
        func.ST_Y(geometry).label("lat"),
        func.ST_X(geometry).label("lon"),
    )


async def check_ins_for_evidence(
    session: AsyncSession, visit_id: UUID, *, agent_id: UUID
) -> tuple[list[Row[Any]], Row[Any] | None]:
    """Return the agent's own check-ins at the visit, and the one before them.

    The own check-ins are ordered by device time. A visit handed over keeps
    the earlier agent's check-ins, which say nothing of the agent filing
    now. The one before is the agent's latest check-in at another visit no
    later than the first own one, by device time; None without own
    check-ins. One statement instead of two: the result's transaction runs
    it on every result.
    """
    parameters = {"target_visit_id": visit_id, "target_agent_id": agent_id}
    rows = list((await session.execute(EVIDENCE_CHECK_INS, parameters)).all())
    own = [row for row in rows if row.visit_id == visit_id]
    before = [row for row in rows if row.visit_id != visit_id]
    return own, before[0] if before else None


def _evidence_check_ins_statement() -> Any:
    check_ins = CheckIn.__table__
    visit_id, agent_id = bindparam("target_visit_id"), bindparam("target_agent_id")
    first_own = (
        select(func.min(check_ins.c.device_time))
        .where(check_ins.c.visit_id == visit_id, check_ins.c.agent_id == agent_id)
        .scalar_subquery()
    )
    previous = (
        select(check_ins.c.check_in_id)
        .where(
            check_ins.c.agent_id == agent_id,
            check_ins.c.visit_id != visit_id,
            check_ins.c.device_time <= first_own,
        )
        .order_by(check_ins.c.device_time.desc(), check_ins.c.check_in_id)
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(*_check_in_columns(check_ins))
        .where(
            # Either side can use an index (the visit's, the primary key),
            # however many check-ins the agent has made before.
            or_(
                and_(
                    check_ins.c.visit_id == visit_id,
                    check_ins.c.agent_id == agent_id,
                ),
                check_ins.c.check_in_id == previous,
            )
        )
        .order_by(check_ins.c.device_time, check_ins.c.check_in_id)
    )


EVIDENCE_CHECK_INS = _evidence_check_ins_statement()


async def attach_and_read_photos(
    session: AsyncSession,
    visit_id: UUID,
    photo_ids: list[UUID],
    result_id: UUID,
    *,
    agent_id: UUID,
) -> list[Row[Any]]:
    """Link the cited photos to the result; return all the agent's photos.

    Only photos `agent_id` uploaded to the visit are linked. Each row gives
    the photo's EXIF time and position, whether it was `cited` (and so
    linked now), and `other_visits`, the count of the other visits that hold
    a photo with the same bytes. Ordered by upload, like `photos_of`. One
    statement where linking and reading took two.
    """
    parameters = {
        "target_visit_id": visit_id,
        "target_agent_id": agent_id,
        "photo_ids": photo_ids,
        "new_result_id": result_id,
    }
    return list((await session.execute(ATTACH_AND_READ_PHOTOS, parameters)).all())


def _attach_and_read_photos_statement() -> Any:
    photos = Photo.__table__
    other = photos.alias("other")
    visit_id, agent_id = bindparam("target_visit_id"), bindparam("target_agent_id")
    attached = (
        update(photos)
        .where(
            photos.c.visit_id == visit_id,
            photos.c.agent_id == agent_id,
            photos.c.photo_id.in_(bindparam("photo_ids", expanding=True)),
        )
        .values(result_id=bindparam("new_result_id"))
        .returning(photos.c.photo_id)
        .cte("attached")
    )
    sharing = (
        select(func.count(func.distinct(other.c.visit_id)))
        .where(other.c.sha256 == photos.c.sha256, other.c.visit_id != visit_id)
        .scalar_subquery()
        .label("other_visits")
    )
    # The SELECT reads the rows as they were before the UPDATE in the CTE,
    # which changes only `result_id`, a column it does not read.
    cited = photos.c.photo_id.in_(select(attached.c.photo_id)).label("cited")
    return (
        select(
            photos.c.photo_id,
            photos.c.taken_at,
            photos.c.exif_lat,
            photos.c.exif_lon,
            sharing,
            cited,
        )
        .add_cte(attached)
        .where(photos.c.visit_id == visit_id, photos.c.agent_id == agent_id)
        .order_by(photos.c.uploaded_at, photos.c.photo_id)
    )


ATTACH_AND_READ_PHOTOS = _attach_and_read_photos_statement()


# --- review -----------------------------------------------------------------


async def reject(
    session: AsyncSession,
    visit_id: UUID,
    *,
    tenant_id: UUID,
    completed_after: datetime,
    at: datetime,
) -> Row[Any] | None:
    """Move a completed visit, completed after `completed_after`, to rejected."""
    statement = (
        update(Visit)
        .where(
            Visit.visit_id == visit_id,
            Visit.tenant_id == tenant_id,
            Visit.state == VisitState.COMPLETED.value,
            Visit.completed_at > completed_after,
        )
        .values(state=VisitState.REJECTED.value, closed_at=at, updated_at=func.now())
        .returning(
            Visit.campaign_id,
            Visit.account_id,
            Visit.agent_id,
            Visit.attempt,
            Visit.fee_amount,
            Visit.fee_currency,
        )
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).first()


async def restore_completed(
    session: AsyncSession, visit_id: UUID, *, tenant_id: UUID
) -> Row[Any] | None:
    statement = (
        update(Visit)
        .where(
            Visit.visit_id == visit_id,
            Visit.tenant_id == tenant_id,
            Visit.state == VisitState.REJECTED.value,
        )
        .values(state=VisitState.COMPLETED.value, updated_at=func.now())
        .returning(
            Visit.campaign_id,
            Visit.account_id,
            Visit.agent_id,
            Visit.fee_amount,
            Visit.fee_currency,
        )
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).first()


async def insert_review(session: AsyncSession, **values: Any) -> None:
    await session.execute(pg_insert(Review).values(**values))


async def review_of(
    session: AsyncSession, visit_id: UUID, *, for_update: bool = False
) -> Review | None:
    # populate_existing: a review updated earlier in this session is read anew.
    statement = (
        select(Review)
        .where(Review.visit_id == visit_id)
        .execution_options(populate_existing=True)
    )
    if for_update:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def update_review(
    session: AsyncSession, visit_id: UUID, *, from_status: str, **values: Any
) -> bool:
    """Change a review still in `from_status`; False when it moved meanwhile."""
    statement = (
        update(Review)
        .where(Review.visit_id == visit_id, Review.status == from_status)
        .values(**values)
        .returning(Review.visit_id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).first() is not None


async def tenant_visit_state(
    session: AsyncSession, tenant_id: UUID, visit_id: UUID
) -> Row[Any] | None:
    statement = select(Visit.state, Visit.completed_at, Visit.agent_id).where(
        Visit.visit_id == visit_id, Visit.tenant_id == tenant_id
    )
    return (await session.execute(statement)).first()


async def agent_visit_state(
    session: AsyncSession, agent_id: UUID, visit_id: UUID
) -> Row[Any] | None:
    statement = select(
        Visit.state, Visit.tenant_id, Visit.campaign_id, Visit.account_id
    ).where(Visit.visit_id == visit_id, Visit.agent_id == agent_id)
    return (await session.execute(statement)).first()


async def visit_fee(session: AsyncSession, visit_id: UUID) -> Row[Any]:
    statement = select(
        Visit.campaign_id,
        Visit.account_id,
        Visit.agent_id,
        Visit.fee_amount,
        Visit.fee_currency,
    ).where(Visit.visit_id == visit_id)
    return (await session.execute(statement)).one()
