"""The agent's day: its active visits, planned into a route from the database.

`matching.route` does the planning; this module reads the agent, its
working hours and its visits, decides where and when the day starts, and
builds the response without debtor data.
"""

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from matching import repository
from matching.hours import campaign_days, campaign_window
from matching.route import (
    DayPlan,
    DayRoute,
    Interval,
    Place,
    RouteStop,
    before,
    legal_windows_on,
    plan_route,
)
from matching.schedule import Window as WorkingWindow
from matching.schedule import windows_on
from matching.schemas import AgentRoute, RouteMissed, RouteStart, RouteStopOut
from matching.settings import MatchingSettings
from shared.errors import NotFoundError, UnprocessableError

# The farthest day ahead a route is planned for, because dates near the end
# of the calendar overflow the solver's clock.
ROUTE_HORIZON_DAYS = 366

# Routes are solved off the event loop, one at a time. OR-tools calls back
# into Python for every arc, so the solver thread gives up the interpreter
# lock often and the loop keeps serving. With four solves in four threads,
# /health waited up to 0.42 s; one at a time, 0.13 s.
# NOTE: routes asked for at once queue here, each up to
# MATCHING_ROUTE_TIME_LIMIT_SECONDS of search.
ROUTE_SOLVER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="route")


async def agent_day_route(
    session: AsyncSession,
    agent_id: uuid.UUID,
    *,
    day: date | None,
    settings: MatchingSettings,
    now: datetime,
) -> AgentRoute:
    """Plan the agent's active visits into `day`, today in its zone when None."""
    async with session.begin():
        agent = await repository.get_agent(session, agent_id)
        if agent is None:
            raise NotFoundError(
                f"agent {agent_id} not found: the token is valid but names no "
                "registered agent. Ask the operator to register the agent again"
            )
        hours = await repository.get_working_hours(session, agent_id)
        rows = await repository.active_stops(session, agent_id)
    zone_name = agent.time_zone or settings.default_agent_time_zone
    zone = ZoneInfo(zone_name)
    today = now.astimezone(zone).date()
    day = day or today
    if day < today:
        raise UnprocessableError(
            f"date {day.isoformat()} is past in {zone_name}: ask for today "
            f"({today.isoformat()}) or a later day"
        )
    horizon = today + timedelta(days=ROUTE_HORIZON_DAYS)
    if day > horizon:
        raise UnprocessableError(
            f"date {day.isoformat()} is more than {ROUTE_HORIZON_DAYS} days "
            f"ahead in {zone_name}: ask for a day up to {horizon.isoformat()}"
        )
    midnight = datetime.combine(day, time(), tzinfo=zone)
    start, source = _start_place(agent, fresh=day == today, now=now, settings=settings)
    plan = DayPlan(
        start=start,
        start_at=max(now, midnight),
        speed_kmh=getattr(settings, f"rank_{agent.travel_mode}_speed_kmh"),
        service=timedelta(minutes=settings.route_service_minutes),
        stops=tuple(_stop(row, day) for row in rows),
        working=_working(hours, zone, day, midnight),
        return_to=Place(agent.lat, agent.lon)
        if settings.route_return_to_base
        else None,
        detour_factor=settings.route_detour_factor,
        time_limit=timedelta(seconds=settings.route_time_limit_seconds),
        max_stops=settings.route_max_stops,
    )
    loop = asyncio.get_running_loop()
    route = await loop.run_in_executor(ROUTE_SOLVER, plan_route, plan)
    return _answer(plan, route, rows, day=day, zone_name=zone_name, source=source)


def _start_place(
    agent: Row[Any], *, fresh: bool, now: datetime, settings: MatchingSettings
) -> tuple[Place, str]:
    """Start where the app last saw the agent, if recent and the day is today.

    The fix must be fresh and accurate enough by the same settings that let
    dispatch measure distance from it.
    """
    limit = timedelta(minutes=settings.location_fresh_minutes)
    seen = agent.last_location_at
    accuracy = agent.last_location_accuracy_m
    if (
        fresh
        and seen is not None
        and now - seen <= limit
        and (accuracy is None or accuracy <= settings.location_max_accuracy_m)
    ):
        return Place(agent.last_lat, agent.last_lon), "last_location"
    return Place(agent.lat, agent.lon), "base"


def _working(
    hours: Any, zone: ZoneInfo, day: date, midnight: datetime
) -> tuple[Interval, ...]:
    """Return the working windows that start on `day`, or all day with no schedule."""
    if not hours:
        return ((midnight, datetime.combine(day + timedelta(days=1), time(), zone)),)
    windows = [WorkingWindow(weekday=w, start=s, end=e) for w, s, e in hours]
    return tuple(windows_on(windows, zone, day))


def _stop(row: Row[Any], day: date) -> RouteStop:
    stricter = campaign_window(row.visiting_start, row.visiting_end)
    legal = legal_windows_on(
        day, row.time_zone, stricter, campaign_days(row.visiting_days)
    )
    return RouteStop(
        row.visit_id,
        Place(row.lat, row.lon),
        before(legal, row.deadline),
        deadline=row.deadline,
    )


def _answer(
    plan: DayPlan,
    route: DayRoute,
    rows: Any,
    *,
    day: date,
    zone_name: str,
    source: str,
) -> AgentRoute:
    area = {row.visit_id: (row.colonia, row.municipality) for row in rows}
    return AgentRoute(
        date=day,
        time_zone=zone_name,
        start=RouteStart(
            lat=plan.start.lat, lon=plan.start.lon, source=source, at=plan.start_at
        ),
        stops=[
            RouteStopOut(
                visit_id=s.visit_id,
                colonia=area[s.visit_id][0],
                municipality=area[s.visit_id][1],
                arrival=s.arrival,
                departure=s.departure,
                leg_m=s.leg_m,
            )
            for s in route.stops
        ],
        return_leg_m=route.return_leg_m,
        distance_m=route.distance_m,
        travel_minutes=round(route.distance_m / (plan.speed_kmh * 1000 / 60), 1),
        finish_at=route.finish_at,
        not_today=[
            RouteMissed(
                visit_id=d.visit_id,
                colonia=area[d.visit_id][0],
                municipality=area[d.visit_id][1],
                reason=d.reason.value,
            )
            for d in route.dropped
        ],
    )
