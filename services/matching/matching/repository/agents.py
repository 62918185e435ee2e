"""SQL on agents, their daily load, and the search for covering agents."""

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from geoalchemy2 import Geometry, WKTElement
from sqlalchemy import (
    TIMESTAMP,
    Date,
    DateTime,
    Integer,
    Row,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from matching.candidates import CandidateRules
from matching.models import (
    MAX_COVERAGE_RADIUS_M,
    Agent,
    AgentDailyLoad,
    AgentStatus,
    AgentWorkingHours,
    Assignment,
    AssignmentState,
    Offer,
    OfferState,
    VisitRequest,
)


def wkt_point(lat: float, lon: float) -> WKTElement:
    return WKTElement(f"POINT({lon!r} {lat!r})", srid=4326)


async def insert_agent(
    session: AsyncSession, *, lat: float, lon: float, **values: Any
) -> None:
    await session.execute(
        insert(Agent).values(base_location=wkt_point(lat, lon), **values)
    )


async def get_agent(session: AsyncSession, agent_id: uuid.UUID) -> Row[Any] | None:
    base = cast(Agent.base_location, Geometry)
    last = cast(Agent.last_location, Geometry)
    query = select(
        Agent.agent_id,
        Agent.name,
        Agent.phone,
        func.ST_Y(base).label("lat"),
        func.ST_X(base).label("lon"),
        Agent.coverage_radius_m,
        Agent.daily_capacity,
        Agent.travel_mode,
        Agent.status,
        Agent.verified,
        Agent.employer_tenant_id,
        Agent.rating,
        Agent.created_at,
        Agent.time_zone,
        func.ST_AsGeoJSON(Agent.coverage_area).label("coverage_area"),
        func.ST_Y(last).label("last_lat"),
        func.ST_X(last).label("last_lon"),
        Agent.last_location_accuracy_m,
        Agent.last_location_at,
        Agent.last_location_received_at,
    ).where(Agent.agent_id == agent_id)
    return (await session.execute(query)).first()


async def get_working_hours(
    session: AsyncSession, agent_id: uuid.UUID
) -> Sequence[Row[Any]]:
    query = (
        select(
            AgentWorkingHours.weekday,
            AgentWorkingHours.start_time,
            AgentWorkingHours.end_time,
        )
        .where(AgentWorkingHours.agent_id == agent_id)
        .order_by(AgentWorkingHours.weekday, AgentWorkingHours.start_time)
    )
    return (await session.execute(query)).all()


async def replace_schedule(
    session: AsyncSession,
    agent_id: uuid.UUID,
    *,
    time_zone: str,
    windows: Sequence[tuple[int, Any, Any]],
) -> bool:
    """Set the agent's time zone and working windows; False for no such agent."""
    updated = await session.execute(
        update(Agent)
        .where(Agent.agent_id == agent_id)
        .values(time_zone=time_zone)
        .returning(Agent.agent_id)
    )
    if updated.first() is None:
        return False
    await session.execute(
        delete(AgentWorkingHours).where(AgentWorkingHours.agent_id == agent_id)
    )
    await session.execute(
        insert(AgentWorkingHours),
        [
            {"agent_id": agent_id, "weekday": d, "start_time": s, "end_time": e}
            for d, s, e in windows
        ],
    )
    return True


async def lock_placeable_agent(session: AsyncSession, agent_id: uuid.UUID) -> bool:
    """Lock the agent's row for share when it may take work; False when not.

    A suspension's UPDATE of the row then waits until this transaction
    commits, so its hand-over sees the assignment or offer made here. A
    placement that runs after the suspension reads `suspended` and skips
    the agent.
    """
    locked = await session.execute(
        select(Agent.agent_id)
        .where(
            Agent.agent_id == agent_id,
            Agent.status != AgentStatus.SUSPENDED,
            Agent.verified.is_(True),
        )
        .with_for_update(read=True)
    )
    return locked.first() is not None


async def set_agent_columns(
    session: AsyncSession, agent_id: uuid.UUID, *where: Any, **values: Any
) -> bool:
    """Update the agent's columns when `where` holds; False when nothing changed."""
    updated = await session.execute(
        update(Agent)
        .where(Agent.agent_id == agent_id, *where)
        .values(**values)
        .returning(Agent.agent_id)
    )
    return updated.first() is not None


async def set_last_location(
    session: AsyncSession,
    agent_id: uuid.UUID,
    *,
    lat: float,
    lon: float,
    accuracy_m: float,
    recorded_at: datetime,
    received_at: datetime,
) -> bool:
    """Store the location unless a later one is stored; False when ignored."""
    return await set_agent_columns(
        session,
        agent_id,
        or_(Agent.last_location_at.is_(None), Agent.last_location_at <= recorded_at),
        last_location=wkt_point(lat, lon),
        last_location_accuracy_m=accuracy_m,
        last_location_at=recorded_at,
        last_location_received_at=received_at,
    )


async def track_record(session: AsyncSession, agent_id: uuid.UUID) -> Row[Any]:
    """Return the agent's offer and assignment counts, as ranking reads them."""
    query = (
        select(*_track_record()).select_from(Agent).where(Agent.agent_id == agent_id)
    )
    return (await session.execute(query)).one()


async def assigned_on(session: AsyncSession, agent_id: uuid.UUID, day: date) -> int:
    assigned = await session.scalar(
        select(AgentDailyLoad.assigned).where(
            AgentDailyLoad.agent_id == agent_id, AgentDailyLoad.day == day
        )
    )
    return assigned or 0


async def reserve_capacity(
    session: AsyncSession, agent_id: uuid.UUID, day: date, *, capacity: int
) -> bool:
    """Count one more visit for the agent on `day` unless that passes `capacity`.

    Returns False when the agent is full. The check and the increment are one
    statement, so concurrent callers are serialized on the row lock.
    """
    statement = insert(AgentDailyLoad).values(agent_id=agent_id, day=day, assigned=1)
    statement = statement.on_conflict_do_update(
        index_elements=[AgentDailyLoad.agent_id, AgentDailyLoad.day],
        set_={"assigned": AgentDailyLoad.assigned + 1},
        where=AgentDailyLoad.assigned < capacity,
    ).returning(AgentDailyLoad.assigned)
    return (await session.execute(statement)).first() is not None


def _eligible() -> Any:
    """Verified agents who may take the visit: platform agents or its tenant's."""
    return and_(
        Agent.verified.is_(True),
        or_(
            Agent.employer_tenant_id.is_(None),
            Agent.employer_tenant_id == VisitRequest.tenant_id,
        ),
    )


def _working_before_deadline(now: datetime | None = None) -> Any:
    """Agents who work at `now` or start a window before the visit's deadline.

    An agent with no schedule (no time zone) works any time. `now` defaults
    to the transaction's time.
    """
    at = func.now() if now is None else literal(now, DateTime(timezone=True))
    return or_(
        Agent.time_zone.is_(None), works_between(at, until=VisitRequest.deadline)
    )


def works_between(at: Any, *, until: Any) -> Any:
    """Agents with a window that runs at `at` or starts before `until`.

    This is `schedule.works_before` in SQL, and the same rule as the SQL
    function `matching.agent_works_between`. PostgreSQL does not inline a
    SQL function whose body has a subquery, so calling it costs one call
    per agent in range (as the plan shows). Written as a correlated EXISTS,
    it becomes one index lookup per agent.

    Local days run from the day before `at` to eight days on, and a weekly
    window falls on at most two of those ten days: the first with its
    weekday, and a week later. Local times are plain timestamps read in the
    agent's zone, as `schedule` reads them.
    """
    zone = Agent.time_zone
    window = AgentWorkingHours
    eve = cast(cast(func.timezone(zone, at), Date) - 1, TIMESTAMP)
    to_weekday = (window.weekday - cast(func.extract("isodow", eve), Integer) + 7) % 7
    last_day = cast(
        cast(func.timezone(zone, func.least(until, at + timedelta(days=8))), Date),
        TIMESTAMP,
    )
    overnight = case(
        (window.end_time <= window.start_time, timedelta(days=1)),
        else_=timedelta(0),
    )

    def occurs(weeks: int) -> Any:
        day = eve + func.make_interval(0, 0, weeks, to_weekday)
        return and_(
            day <= last_day,
            func.timezone(zone, day + window.start_time) < until,
            func.timezone(zone, day + window.end_time + overnight) > at,
        )

    return exists().where(window.agent_id == Agent.agent_id, or_(occurs(0), occurs(1)))


def _location(rules: CandidateRules) -> Any:
    """Return the agent's last known location when fresh and accurate, else its base."""
    if rules.location_fresh_since is None:
        return Agent.base_location
    fresh = and_(
        Agent.last_location.is_not(None),
        Agent.last_location_at >= rules.location_fresh_since,
        Agent.last_location_accuracy_m <= rules.location_max_accuracy_m,
    )
    return case((fresh, Agent.last_location), else_=Agent.base_location)


def _within_reach(location: Any, reach_m: Mapping[str, float]) -> Any:
    """Agents at `location` who reach the visit at their mode's speed in time."""
    reach = case(dict(reach_m), value=Agent.travel_mode, else_=0.0)
    return func.ST_DWithin(location, VisitRequest.location, reach)


def _available(rules: CandidateRules) -> Any:
    """Online agents, and in assign mode offline ones with a schedule too.

    An offline agent with a schedule must start work before the deadline and
    before its check-in falls due (`rules.check_in_within` from now), or the
    lapse pass would take the visit back before it could start.
    """
    if not rules.offline_if_scheduled:
        return Agent.status == AgentStatus.ONLINE
    at = literal(rules.now, DateTime(timezone=True))
    until: Any = VisitRequest.deadline
    if rules.check_in_within is not None:
        within = rules.now + rules.check_in_within
        until = func.least(until, literal(within, DateTime(timezone=True)))
    return or_(
        Agent.status == AgentStatus.ONLINE,
        and_(
            Agent.status == AgentStatus.OFFLINE,
            Agent.time_zone.is_not(None),
            works_between(at, until=until),
        ),
    )


def _local_day(rules: CandidateRules) -> Any:
    """Return the agent's day at `rules.now` in its zone, else the fallback zone."""
    zone = func.coalesce(Agent.time_zone, rules.fallback_zone)
    return cast(func.timezone(zone, literal(rules.now)), Date)


def _covering() -> Any:
    """Agents whose coverage area, or else circle, contains the visit's location."""
    location = VisitRequest.location
    return and_(
        # The constant radius lets the GiST index narrow the scan first; an
        # area lies within it too (`matching.coverage`).
        func.ST_DWithin(Agent.base_location, location, MAX_COVERAGE_RADIUS_M),
        case(
            (
                Agent.coverage_area.is_not(None),
                func.ST_Covers(Agent.coverage_area, location),
            ),
            else_=func.ST_DWithin(
                Agent.base_location, location, Agent.coverage_radius_m
            ),
        ),
    )


async def find_candidates(
    session: AsyncSession, visit_id: uuid.UUID, *, rules: CandidateRules, limit: int
) -> Sequence[Row[Any]]:
    """Return the visit's candidates under `rules`, nearest first.

    Each row has the agent's `load_day`, the local day whose capacity the
    visit would take, and `lat`, `lon` and `distance_m` from the agent's
    location (`matching.candidates`). An agent who was offered the visit
    before, whatever the answer, is left out: one who declined or let the
    offer expire never sees it again. The capacity read here is a snapshot
    that only skips full agents early. `reserve_capacity` enforces the limit.
    """
    offered_before = exists().where(
        Offer.visit_id == visit_id, Offer.agent_id == Agent.agent_id
    )
    location = _location(rules)
    distance = func.ST_Distance(location, VisitRequest.location)
    point = cast(location, Geometry)
    day = _local_day(rules)
    assigned = func.coalesce(AgentDailyLoad.assigned, 0)
    query = (
        select(
            Agent.agent_id,
            Agent.daily_capacity,
            distance.label("distance_m"),
            func.ST_Y(point).label("lat"),
            func.ST_X(point).label("lon"),
            Agent.travel_mode,
            Agent.coverage_radius_m,
            Agent.status,
            day.label("load_day"),
            (Agent.daily_capacity - assigned).label("free_capacity"),
            *_track_record(),
        )
        .join(VisitRequest, VisitRequest.visit_id == visit_id)
        .outerjoin(
            AgentDailyLoad,
            and_(AgentDailyLoad.agent_id == Agent.agent_id, AgentDailyLoad.day == day),
        )
        .where(
            _covering(),
            _eligible(),
            _staff(rules.staff_only),
            _available(rules),
            _within_reach(location, rules.reach_m),
            assigned < Agent.daily_capacity,
            ~offered_before,
            _working_before_deadline(rules.now),
        )
        .order_by(distance, Agent.agent_id)
        .limit(limit)
    )
    return (await session.execute(query)).all()


def _staff(staff_only: bool) -> Any:
    """Keep the visit's tenant's own agents while `staff_only`, else everyone."""
    if not staff_only:
        return true()
    return Agent.employer_tenant_id == VisitRequest.tenant_id


def _track_record() -> list[Any]:
    """Count each agent's offers and assignments, for ranking by reliability."""

    def offers(*where: Any) -> Any:
        return (
            select(func.count())
            .select_from(Offer)
            .where(Offer.agent_id == Agent.agent_id, *where)
            .scalar_subquery()
        )

    def assignments(*states: AssignmentState) -> Any:
        return (
            select(func.count())
            .select_from(Assignment)
            .where(Assignment.agent_id == Agent.agent_id, Assignment.state.in_(states))
            .scalar_subquery()
        )

    # Offers still open have no answer yet, so they count for neither rate.
    answered = Offer.state.in_(
        [OfferState.ACCEPTED, OfferState.DECLINED, OfferState.EXPIRED]
    )
    return [
        offers(answered).label("offers_received"),
        offers(Offer.state == OfferState.ACCEPTED).label("offers_accepted"),
        assignments(AssignmentState.RELEASED, AssignmentState.DONE).label(
            "assignments_ended"
        ),
        assignments(AssignmentState.DONE).label("visits_completed"),
    ]


async def covering_agent_exists(
    session: AsyncSession,
    visit_id: uuid.UUID,
    *,
    now: datetime | None = None,
    reach_m: Mapping[str, float] | None = None,
) -> bool:
    """Tell whether an agent who is not suspended covers the visit and may take it.

    Full and offline agents count, because either may take the visit later,
    but only those who work before the visit's deadline and, given
    `reach_m`, whose base is within reach. Platform agents count while the
    visit is still for staff only, since they may take it once that ends.
    Agents offered the visit before do not: they will not be offered it again.
    """
    offered_before = exists().where(
        Offer.visit_id == visit_id, Offer.agent_id == Agent.agent_id
    )
    query = select(
        exists()
        .where(VisitRequest.visit_id == visit_id)
        .where(
            _eligible(),
            _covering(),
            Agent.status != AgentStatus.SUSPENDED,
            true() if reach_m is None else _within_reach(Agent.base_location, reach_m),
            _working_before_deadline(now),
            ~offered_before,
        )
    )
    return bool(await session.scalar(query))


async def nearest_agent_distance(
    session: AsyncSession, visit_id: uuid.UUID
) -> float | None:
    """Return meters to the nearest eligible agent's base, suspended ones aside."""
    distance = func.ST_Distance(Agent.base_location, VisitRequest.location)
    query = (
        select(distance)
        .join(VisitRequest, VisitRequest.visit_id == visit_id)
        .where(_eligible(), Agent.status != AgentStatus.SUSPENDED)
        .order_by(distance)
        .limit(1)
    )
    return await session.scalar(query)


async def release_capacity(
    session: AsyncSession, agent_id: uuid.UUID, day: date
) -> bool:
    """Count one visit fewer for the agent on `day`; False when none was counted."""
    statement = (
        update(AgentDailyLoad)
        .where(
            AgentDailyLoad.agent_id == agent_id,
            AgentDailyLoad.day == day,
            AgentDailyLoad.assigned > 0,
        )
        .values(assigned=AgentDailyLoad.assigned - 1)
        .returning(AgentDailyLoad.assigned)
    )
    return (await session.execute(statement)).first() is not None
