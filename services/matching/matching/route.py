"""The agent's day: an ordered route over its visits, inside legal hours.

A visit may start only inside its windows: the legal visiting hours of the
address (narrowed by the campaign's own hours), the agent's working hours
less the time the visit takes, and before the visit's deadline. OR-tools'
routing solver orders the stops to make the day's distance shortest. A
stop that cannot fit is dropped at a penalty larger than any route, so the
solver drops a stop only when it finds no order that serves it, and the
result names the reason. The tests check this against every order of up
to six stops.

Travel is the straight-line distance times a detour factor, at the speed
of the agent's mode, as the ranking reckons it. Everything here is pure:
the caller passes the instants, places and speeds.
"""

import dataclasses
import math
import time as clock
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import reduce
from itertools import pairwise
from zoneinfo import ZoneInfo

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from matching.hours import Weekday, Window, address_zones, legal_window

EARTH_RADIUS_M = 6_371_008.8

# Dropping a stop costs more than any day's route could (100,000 km), so
# the solver serves every stop it can.
DROP_PENALTY_M = 100_000_000

# Solutions the guided local search may visit. A count, unlike a time limit,
# gives the same route for the same input on any machine.
SEARCH_SOLUTION_LIMIT = 50

# Days with at most this many stops are solved exactly, by trying every
# order (13,699 partial orders for 7 stops, a few milliseconds). The local
# search cannot promise the shortest day or that no stop is dropped when
# some order serves them all, and under load its time limit can cut it
# short.
EXACT_STOPS = 7

Interval = tuple[datetime, datetime]


class DropReason(StrEnum):
    OUTSIDE_HOURS = "outside_hours"
    """No legal visiting time inside the agent's working hours, before the
    deadline, is left on that day."""
    CANNOT_REACH = "cannot_reach"
    """Even going straight there, the agent would arrive after the last
    legal start."""
    DAY_FULL = "day_full"
    """Reachable alone, but not together with the stops kept, or past the
    day's `max_stops` with a later deadline than the stops planned."""


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float


@dataclass(frozen=True)
class RouteStop:
    """A visit to route. `windows` are the instants it may start in, [start, end)."""

    visit_id: uuid.UUID
    place: Place
    windows: tuple[Interval, ...]
    deadline: datetime | None = None
    """The visit's deadline. Visits due earliest are planned first."""


@dataclass(frozen=True)
class DayPlan:
    """The solver's input: where and when the agent starts, and how it moves.

    `working` lists the agent's working windows on the day, and a stop must
    start and end inside one. `return_to` is the base to come back to, or None for
    a day that ends at the last stop. At most `max_stops` stops are planned,
    the earliest deadlines first, because the distance table and the
    search grow with the square of the stops.
    """

    start: Place
    start_at: datetime
    speed_kmh: float
    service: timedelta
    stops: tuple[RouteStop, ...]
    working: tuple[Interval, ...]
    return_to: Place | None = None
    detour_factor: float = 1.0
    time_limit: timedelta = timedelta(seconds=2)
    max_stops: int = 40

    def __post_init__(self) -> None:
        if not self.speed_kmh > 0:
            raise ValueError(f"speed_kmh must be above 0, not {self.speed_kmh}")
        if self.service < timedelta(0):
            raise ValueError(f"service must not be negative, not {self.service}")
        if self.detour_factor < 1:
            raise ValueError(f"detour_factor must be at least 1: {self.detour_factor}")
        if self.max_stops < 1:
            raise ValueError(f"max_stops must be at least 1, not {self.max_stops}")


@dataclass(frozen=True)
class PlannedStop:
    visit_id: uuid.UUID
    arrival: datetime
    departure: datetime
    leg_m: int
    """Meters from the previous stop, or from the start for the first."""


@dataclass(frozen=True)
class DroppedStop:
    visit_id: uuid.UUID
    reason: DropReason


@dataclass(frozen=True)
class DayRoute:
    stops: list[PlannedStop]
    dropped: list[DroppedStop]
    return_leg_m: int
    finish_at: datetime
    """When the agent is home, or leaves the last stop for a day with no return."""

    @property
    def distance_m(self) -> int:
        return sum(s.leg_m for s in self.stops) + self.return_leg_m


def great_circle_m(a: Place, b: Place) -> float:
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlam = phi2 - phi1, math.radians(b.lon - a.lon)
    h = (
        math.sin(dphi / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> tuple[Interval, ...]:
    """Return the instants in both `a` and `b`, as sorted non-empty intervals."""
    pieces = [
        (max(s1, s2), min(e1, e2))
        for s1, e1 in a
        for s2, e2 in b
        if max(s1, s2) < min(e1, e2)
    ]
    return tuple(sorted(pieces))


def legal_windows_on(
    day: date,
    time_zone: str | None,
    stricter: Window | None = None,
    allowed_days: frozenset[Weekday] | None = None,
) -> tuple[Interval, ...]:
    """Return the instants of local `day` at which a visit may legally start.

    An address with no known zone must be legal in every zone of Mexico at
    once, as when offering. Each zone reads `day` as its own local date.
    Daylight saving time moves the window in UTC, not in local time. A day
    outside `allowed_days` (None allows every day) has no instant.
    """
    if allowed_days is not None and list(Weekday)[day.weekday()] not in allowed_days:
        return ()
    per_zone = []
    for name in address_zones(time_zone):
        window = legal_window(name)
        if stricter is not None:
            start, end = (
                max(window.start, stricter.start),
                min(window.end, stricter.end),
            )
            if not start < end:
                return ()
            window = Window(start, end)
        zone = ZoneInfo(name)
        opens, closes = _at(day, window.start, zone), _at(day, window.end, zone)
        per_zone.append(((opens, closes),))
    return reduce(intersect, per_zone)


def _at(day: date, at: time, zone: ZoneInfo) -> datetime:
    # Legal hours never fall in the night hour that clocks skip or repeat.
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def before(windows: Sequence[Interval], deadline: datetime) -> tuple[Interval, ...]:
    """Cut `windows` at `deadline`: the visit must start before it."""
    return tuple((s, min(e, deadline)) for s, e in windows if s < deadline)


def insertion_detour_m(path: Sequence[Place], visit: Place) -> float:
    """Return the fewest meters that adding `visit` to `path` adds.

    `path` starts where the agent is and lists its planned stops in order.
    The visit may go between any two of them or after the last. This is the
    travel a visit costs an agent who already has a day planned, which the
    distance from its current position overstates or understates.
    """
    if not path:
        raise ValueError("path must hold at least the agent's position")
    best = great_circle_m(path[-1], visit)
    for a, b in pairwise(path):
        added = great_circle_m(a, visit) + great_circle_m(visit, b)
        best = min(best, added - great_circle_m(a, b))
    return best


def nearest_first(start: Place, stops: Sequence[Place]) -> list[Place]:
    """Order `stops` by going each time to the nearest one left, from `start`.

    A cheap stand-in for the day route, for scoring many candidates at once:
    solving each candidate's route would cost tens of milliseconds apiece.
    """
    left = list(stops)
    ordered: list[Place] = []
    here = start
    while left:
        nearest = min(
            range(len(left)),
            key=lambda i: (great_circle_m(here, left[i]), left[i].lat, left[i].lon),
        )
        here = left.pop(nearest)
        ordered.append(here)
    return ordered


def day_detour_m(position: Place, stops: Sequence[Place], visit: Place) -> float:
    """Return the meters a visit adds to an agent's day, straight line.

    The agent is at `position` and still has `stops` to make. They are
    taken in `nearest_first` order, and the visit goes where it adds least.
    An agent with no stops travels from `position` to the visit.
    """
    return insertion_detour_m([position, *nearest_first(position, stops)], visit)


def plan_route(plan: DayPlan) -> DayRoute:
    """Order the stops for the shortest day that keeps every window.

    Stops past `max_stops`, the latest deadlines, are dropped as `day_full`
    before solving. The same plan always gives the same route, unless the
    solver reaches `time_limit` first.
    """
    kept, over = earliest_due(plan.stops, plan.max_stops)
    route = _plan_kept(dataclasses.replace(plan, stops=kept))
    route.dropped.extend(DroppedStop(s.visit_id, DropReason.DAY_FULL) for s in over)
    return route


def earliest_due(
    stops: Sequence[RouteStop], count: int
) -> tuple[tuple[RouteStop, ...], tuple[RouteStop, ...]]:
    """Split `stops` into the `count` due first, in their order, and the rest.

    A stop with no deadline comes after those with one, and ties keep the
    order given.
    """
    far = datetime.max.replace(tzinfo=UTC)
    ranked = sorted(range(len(stops)), key=lambda i: stops[i].deadline or far)
    chosen = set(ranked[:count])
    kept = tuple(s for i, s in enumerate(stops) if i in chosen)
    over = tuple(stops[i] for i in ranked[count:])
    return kept, over


def _plan_kept(plan: DayPlan) -> DayRoute:
    points = [plan.start, *(s.place for s in plan.stops)]
    points.append(plan.return_to or plan.start)
    meters = _meters(points, plan)
    seconds = [[_travel_seconds(m, plan) for m in row] for row in meters]
    allowed = [_allowed(s, plan) for s in plan.stops]
    order = _solve(plan, meters, seconds, allowed)
    return _timed(plan, order, meters, seconds, allowed)


def _meters(points: Sequence[Place], plan: DayPlan) -> list[list[int]]:
    """Whole meters between points; nothing to the end when the day has no return."""
    end = len(points) - 1
    return [
        [
            0
            if j == end and plan.return_to is None
            else round(plan.detour_factor * great_circle_m(a, b))
            for j, b in enumerate(points)
        ]
        for a in points
    ]


def _travel_seconds(meters: int, plan: DayPlan) -> int:
    return math.ceil(meters / (plan.speed_kmh / 3.6))


def _allowed(stop: RouteStop, plan: DayPlan) -> tuple[Interval, ...]:
    """Return the instants the stop may start: its windows, in working hours."""
    working = tuple((s, e - plan.service) for s, e in plan.working)
    from_start = ((plan.start_at, plan.start_at + timedelta(days=366)),)
    return intersect(intersect(stop.windows, working), from_start)


def _solve(
    plan: DayPlan,
    meters: list[list[int]],
    seconds: list[list[int]],
    allowed: list[tuple[Interval, ...]],
) -> list[int]:
    """Return the stops kept, by index into `plan.stops`, in route order."""
    count = len(plan.stops)
    if count == 0:
        return []
    if count <= EXACT_STOPS:
        return _exact(plan, meters, seconds, allowed)
    manager = pywrapcp.RoutingIndexManager(count + 2, 1, [0], [count + 1])
    routing = pywrapcp.RoutingModel(manager)

    def distance(i: int, j: int) -> int:
        return meters[manager.IndexToNode(i)][manager.IndexToNode(j)]

    def transit(i: int, j: int) -> int:
        a, b = manager.IndexToNode(i), manager.IndexToNode(j)
        service = 0 if a == 0 else int(plan.service.total_seconds())
        return seconds[a][b] + service

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(distance))
    latest = max((e for windows in allowed for _, e in windows), default=plan.start_at)
    horizon = _seconds(plan, latest) + 2 * 86_400
    routing.AddDimension(
        routing.RegisterTransitCallback(transit), horizon, horizon, False, "time"
    )
    clock = routing.GetDimensionOrDie("time")
    clock.CumulVar(routing.Start(0)).SetRange(0, 0)
    for node, windows in enumerate(allowed, start=1):
        index = manager.NodeToIndex(node)
        spans = [(s, e) for s, e in (_span(plan, w) for w in windows) if s <= e]
        if spans:
            routing.AddDisjunction([index], DROP_PENALTY_M)
            _restrict(clock.CumulVar(index), spans)
        else:
            # No instant to start at: the stop stays out of the route.
            routing.AddDisjunction([index], 0)
            routing.ActiveVar(index).SetValue(0)

    solution = _search(routing, plan)
    if solution is None:
        return []
    order, index = [], solution.Value(routing.NextVar(routing.Start(0)))
    while not routing.IsEnd(index):
        order.append(manager.IndexToNode(index) - 1)
        index = solution.Value(routing.NextVar(index))
    return order


def _exact(
    plan: DayPlan,
    meters: list[list[int]],
    seconds: list[list[int]],
    allowed: list[tuple[Interval, ...]],
) -> list[int]:
    """Return the order that serves the most stops, then the shortest one.

    Tries every order of every subset of the stops, depth first. Ties keep
    the first order found, which lists lower stop numbers first, so the
    same plan always gives the same route.
    """
    count = len(plan.stops)
    end = count + 1
    service = plan.service
    best: tuple[int, int, list[int]] = (0, 0, [])

    def extend(order: list[int], node: int, at: datetime, meters_so_far: int) -> None:
        nonlocal best
        home = meters_so_far + meters[node][end]
        if len(order) > best[0] or (len(order) == best[0] and home < best[1]):
            best = (len(order), home, list(order))
        for stop in range(count):
            if stop in order:
                continue
            arrival = _earliest(
                allowed[stop], at + timedelta(seconds=seconds[node][stop + 1])
            )
            if arrival is None:
                continue
            order.append(stop)
            extend(
                order,
                stop + 1,
                arrival + service,
                meters_so_far + meters[node][stop + 1],
            )
            order.pop()

    extend([], 0, plan.start_at, 0)
    return best[2]


def _search(
    routing: pywrapcp.RoutingModel, plan: DayPlan
) -> pywrapcp.Assignment | None:
    """Descend to a local optimum, then escape it by guided local search.

    Guided search counts solutions rather than seconds, so that it ends in
    the same place on any machine. With fewer than three stops kept it has
    no move left to make and would run to the time limit, and descent has
    already tried every order of two stops.
    """
    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    )
    parameters.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    )
    started = clock.monotonic()
    parameters.time_limit.FromTimedelta(plan.time_limit)
    descent = routing.SolveWithParameters(parameters)
    if descent is None or _kept(routing, descent) < 3:
        return descent
    # Both searches share `time_limit`: the guided one gets what is left.
    left = plan.time_limit - timedelta(seconds=clock.monotonic() - started)
    if left <= timedelta(0):
        return descent
    parameters.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    parameters.solution_limit = SEARCH_SOLUTION_LIMIT
    parameters.time_limit.FromTimedelta(left)
    guided = routing.SolveFromAssignmentWithParameters(descent, parameters)
    return guided or descent


def _kept(routing: pywrapcp.RoutingModel, solution: pywrapcp.Assignment) -> int:
    count, index = 0, solution.Value(routing.NextVar(routing.Start(0)))
    while not routing.IsEnd(index):
        count, index = count + 1, solution.Value(routing.NextVar(index))
    return count


def _seconds(plan: DayPlan, at: datetime) -> int:
    return math.floor((at - plan.start_at).total_seconds())


def _span(plan: DayPlan, window: Interval) -> tuple[int, int]:
    """Convert a window to whole seconds from the start, both ends included."""
    start, end = window
    return math.ceil((start - plan.start_at).total_seconds()), _seconds(plan, end) - 1


def _restrict(cumul: pywrapcp.IntVar, spans: list[tuple[int, int]]) -> None:
    """Allow `cumul` only inside `spans`, sorted and not overlapping."""
    cumul.SetRange(spans[0][0], spans[-1][1])
    for (_, end), (start, _) in pairwise(spans):
        if start > end + 1:
            cumul.RemoveInterval(end + 1, start - 1)


def _timed(
    plan: DayPlan,
    order: list[int],
    meters: list[list[int]],
    seconds: list[list[int]],
    allowed: list[tuple[Interval, ...]],
) -> DayRoute:
    """Give each kept stop its earliest arrival, and each dropped one its reason."""
    stops, node, at = [], 0, plan.start_at
    for stop in order:
        arrival = _earliest(
            allowed[stop], at + timedelta(seconds=seconds[node][stop + 1])
        )
        if arrival is None:
            raise RuntimeError(f"route solver kept an unservable stop {stop}: {plan}")
        leg = meters[node][stop + 1]
        at = arrival + plan.service
        stops.append(PlannedStop(plan.stops[stop].visit_id, arrival, at, leg))
        node = stop + 1
    # A day with no stop has no trip home either.
    end = len(plan.stops) + 1 if order else 0
    finish = at + timedelta(seconds=seconds[node][end])
    kept = set(order)
    dropped = [
        DroppedStop(s.visit_id, _reason(plan, i, seconds, allowed))
        for i, s in enumerate(plan.stops)
        if i not in kept
    ]
    return DayRoute(
        stops=stops, dropped=dropped, return_leg_m=meters[node][end], finish_at=finish
    )


def _earliest(windows: Sequence[Interval], arrival: datetime) -> datetime | None:
    """Return the first instant at or after `arrival` inside `windows`."""
    for start, end in windows:
        if arrival < end:
            return max(start, arrival)
    return None


def _reason(
    plan: DayPlan,
    stop: int,
    seconds: list[list[int]],
    allowed: list[tuple[Interval, ...]],
) -> DropReason:
    if not allowed[stop]:
        return DropReason.OUTSIDE_HOURS
    direct = plan.start_at + timedelta(seconds=seconds[0][stop + 1])
    if _earliest(allowed[stop], direct) is None:
        return DropReason.CANNOT_REACH
    return DropReason.DAY_FULL
