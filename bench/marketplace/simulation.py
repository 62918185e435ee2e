"""Play one dispatcher through the simulated days and measure the promise.

Minute by minute: visit requests arrive, the dispatcher sends exclusive
offers at its interval during working hours, agents accept, decline or
ignore them, and ignored offers expire. An accepted visit joins the end
of the agent's day, or, for agents that follow the day route, the route
is planned again with it (`days.py`). The agent travels from its last
stop at its mode's speed, on streets taken as 1.3 times the straight
line. It spends a fixed time per visit and goes home when the next stop
would end after hours.
An agent's answer to an offer depends only on the agent, the visit and
the seed, so both dispatchers meet the same answers.
"""

import heapq
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from bench.marketplace.city import (
    DAY_MINUTES,
    WORK_END,
    WORK_START,
    City,
    SimAgent,
    SimVisit,
    distance_m,
)
from bench.marketplace.days import Leg, RoutedDay
from bench.marketplace.dispatchers import SolverClock
from matching.models import TravelMode
from matching.route import Place

OFFER_TIMEOUT_MINUTES = 10
ANSWER_MINUTES = (1, 8)
SERVICE_MINUTES = 20
STREET_FACTOR = 1.3
DAYS = 4


class Dispatcher(Protocol):
    name: str
    interval_minutes: int
    clock: SolverClock

    def choose(
        self, minute: int, waiting: list[SimVisit], agents: list[SimAgent]
    ) -> list[tuple[SimVisit, SimAgent]]: ...


@dataclass
class Route:
    """An agent's position, the minute it is next free and the travel so far."""

    lat: float
    lon: float
    free_at: float = 0.0
    meters: float = 0.0
    minutes: float = 0.0

    def leg_to(self, lat: float, lon: float) -> float:
        return STREET_FACTOR * distance_m(self.lat, self.lon, lat, lon)

    def move(self, lat: float, lon: float, meters_a_minute: float) -> None:
        leg = self.leg_to(lat, lon)
        self.meters += leg
        self.minutes += leg / meters_a_minute
        self.lat, self.lon = lat, lon


@dataclass
class Outcome:
    dispatcher: str
    in_coverage: int
    assigned_within_hour: int
    visited_within_72h: int
    assignments: int
    offers: int
    travel_km: float
    travel_hours: float
    clock: SolverClock = field(default_factory=SolverClock)


class Simulation:
    def __init__(
        self,
        city: City,
        dispatcher: Dispatcher,
        *,
        speeds_kmh: Mapping[TravelMode, float],
        seed: int,
        routed: bool = False,
    ) -> None:
        self.city, self.dispatcher, self.seed = city, dispatcher, seed
        self.speeds_kmh = speeds_kmh
        self.routes = [Route(a.lat, a.lon) for a in city.agents]
        self.days = (
            [
                RoutedDay(
                    base=Place(a.lat, a.lon),
                    speed_m_a_minute=self._speed(a),
                    service_minutes=SERVICE_MINUTES,
                    detour_factor=STREET_FACTOR,
                )
                for a in city.agents
            ]
            if routed
            else None
        )
        self.waiting: dict[int, SimVisit] = {}
        self.events: list[tuple[float, int, str, int, int]] = []
        self.offers = 0

    def run(self) -> Outcome:
        arrivals = iter(self.city.visits)
        upcoming = next(arrivals, None)
        for minute in range(DAYS * DAY_MINUTES):
            self._answer_until(minute)
            self._set_off_all(minute)
            while upcoming is not None and upcoming.requested_at <= minute:
                if upcoming.covered:
                    self.waiting[upcoming.index] = upcoming
                upcoming = next(arrivals, None)
            if self._dispatching(minute):
                self._dispatch(minute)
        self._answer_until(DAYS * DAY_MINUTES)
        self._set_off_all(float("inf"))
        for agent, route in zip(self.city.agents, self.routes, strict=True):
            self._go_home(agent, route)
        return self._outcome()

    def _dispatching(self, minute: int) -> bool:
        in_hours = WORK_START <= minute % DAY_MINUTES < WORK_END
        return bool(
            self.waiting and in_hours and minute % self.dispatcher.interval_minutes == 0
        )

    def _dispatch(self, minute: int) -> None:
        for index in [i for i, v in self.waiting.items() if v.deadline <= minute]:
            del self.waiting[index]
        waiting = sorted(self.waiting.values(), key=lambda v: (v.requested_at, v.index))
        self._share_paths(minute)
        for target, agent in self.dispatcher.choose(minute, waiting, self.city.agents):
            self._offer(minute, target, agent)

    def _offer(self, minute: int, target: SimVisit, agent: SimAgent) -> None:
        del self.waiting[target.index]
        self.offers += 1
        agent.offers_received += 1
        agent.outstanding += 1
        draw = random.Random(f"{self.seed}:{agent.index}:{target.index}")
        roll, delay = draw.random(), draw.randint(*ANSWER_MINUTES)
        if roll < agent.behaviour.accept:
            event, when = "accept", minute + delay
        elif roll < agent.behaviour.accept + agent.behaviour.decline:
            event, when = "decline", minute + delay
        else:
            event, when = "expire", minute + OFFER_TIMEOUT_MINUTES
        heapq.heappush(
            self.events, (when, self.offers, event, target.index, agent.index)
        )

    def _answer_until(self, minute: float) -> None:
        while self.events and self.events[0][0] <= minute:
            when, _, event, visit_index, agent_index = heapq.heappop(self.events)
            target, agent = self.city.visits[visit_index], self.city.agents[agent_index]
            if event == "visited":
                agent.visits_done += 1
                continue
            agent.outstanding -= 1
            if event == "accept":
                self._accept(int(when), target, agent)
            else:
                target.declined_by.add(agent.agent_id)
                self.waiting[target.index] = target

    def _accept(self, minute: int, target: SimVisit, agent: SimAgent) -> None:
        day = minute // DAY_MINUTES
        agent.accepted_by_day[day] = agent.accepted_by_day.get(day, 0) + 1
        agent.offers_accepted += 1
        target.assigned_at, target.agent = minute, agent.index
        route = self.routes[agent.index]
        if self.days is not None:
            self._set_off(agent, minute)
            here = Place(route.lat, route.lon)
            self.days[agent.index].add(
                target, here=here, free_at=route.free_at, minute=minute
            )
            return
        target.visited_at = self._schedule(agent, route, target, minute)
        heapq.heappush(
            self.events, (target.visited_at, -1, "visited", target.index, agent.index)
        )

    def _set_off_all(self, minute: float) -> None:
        if self.days is None:
            return
        for agent, day in zip(self.city.agents, self.days, strict=True):
            if day.plan and day.plan[0].leave <= minute:
                self._set_off(agent, minute)

    def _set_off(self, agent: SimAgent, minute: float) -> None:
        """Fix each planned leg the agent has set off on by `minute`."""
        assert self.days is not None
        route = self.routes[agent.index]
        while (leg := self.days[agent.index].due(minute)) is not None:
            self._travel(agent, route, leg)

    def _travel(self, agent: SimAgent, route: Route, leg: Leg) -> None:
        if leg.arrival // DAY_MINUTES > route.free_at // DAY_MINUTES:
            self._go_home(agent, route)
        route.move(leg.target.lat, leg.target.lon, self._speed(agent))
        route.free_at = leg.arrival + SERVICE_MINUTES
        leg.target.visited_at = leg.arrival
        heapq.heappush(
            self.events, (leg.arrival, -1, "visited", leg.target.index, agent.index)
        )

    def _share_paths(self, minute: int) -> None:
        """Tell each agent's record where it is and the visits it still has to make."""
        if self.days is None:
            return
        for agent, route, day in zip(
            self.city.agents, self.routes, self.days, strict=True
        ):
            # Where the agent is, then every accepted visit not yet set off
            # to, as dispatch reads them: it knows no route order.
            here = Place(route.lat, route.lon)
            agent.route_path = [(here.lat, here.lon)] + [
                (v.lat, v.lon) for v in day.pending
            ]

    def _schedule(
        self, agent: SimAgent, route: Route, target: SimVisit, minute: int
    ) -> float:
        """Add the visit at the end of the agent's day; return the arrival minute."""
        speed = self._speed(agent)
        start = max(route.free_at, minute)
        if start // DAY_MINUTES > route.free_at // DAY_MINUTES:
            self._go_home(agent, route)
        while True:
            day = start // DAY_MINUTES
            start = max(start, day * DAY_MINUTES + WORK_START)
            leg = route.leg_to(target.lat, target.lon)
            arrival = start + leg / speed
            if arrival + SERVICE_MINUTES <= day * DAY_MINUTES + WORK_END:
                route.move(target.lat, target.lon, speed)
                route.free_at = arrival + SERVICE_MINUTES
                return arrival
            self._go_home(agent, route)
            start = (day + 1) * DAY_MINUTES + WORK_START

    def _go_home(self, agent: SimAgent, route: Route) -> None:
        route.move(agent.lat, agent.lon, self._speed(agent))

    def _speed(self, agent: SimAgent) -> float:
        """Return the agent's speed in meters a minute."""
        return self.speeds_kmh[agent.mode] * 1000 / 60

    def _outcome(self) -> Outcome:
        covered = [v for v in self.city.visits if v.covered]
        return Outcome(
            dispatcher=self.dispatcher.name,
            in_coverage=len(covered),
            assigned_within_hour=sum(
                v.assigned_at is not None and v.assigned_at - v.requested_at <= 60
                for v in covered
            ),
            visited_within_72h=sum(
                v.visited_at is not None and v.visited_at - v.requested_at <= 72 * 60
                for v in covered
            ),
            assignments=sum(v.assigned_at is not None for v in covered),
            offers=self.offers,
            travel_km=sum(r.meters for r in self.routes) / 1000,
            travel_hours=sum(r.minutes for r in self.routes) / 60,
            clock=self.dispatcher.clock,
        )
