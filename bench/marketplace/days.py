"""An agent that follows the day route the app shows, re-planned on each accept.

The agent's accepted visits not yet started are planned with
`matching.route`: today's route from where the agent is (or will be once
the visit under way is over), then the visits that do not fit on the next
working days from the base. The agent sets off to the first stop of the
plan as soon as it is free, and that stop is then fixed. Visits carry no
deadline here, so that an agent never saves distance by skipping a visit:
every accepted visit is made, as under acceptance order.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bench.marketplace.city import (
    DAY_MINUTES,
    EPOCH,
    WORK_END,
    WORK_START,
    SimVisit,
    at,
)
from matching.route import DayPlan, Place, RouteStop, plan_route

# Days planned ahead at most. Agents accept about what a day fits, so a few
# days are enough; more would only slow the re-planning.
PLAN_DAYS = 6


@dataclass(frozen=True)
class Leg:
    target: SimVisit
    leave: float
    arrival: float


@dataclass
class RoutedDay:
    """The accepted visits of one agent not yet started, in planned order."""

    base: Place
    speed_m_a_minute: float
    service_minutes: float
    detour_factor: float
    pending: list[SimVisit] = field(default_factory=list)
    plan: list[Leg] = field(default_factory=list)

    def add(
        self, target: SimVisit, *, here: Place, free_at: float, minute: int
    ) -> None:
        self.pending.append(target)
        self.replan(here=here, start=max(free_at, minute))

    def replan(self, *, here: Place, start: float) -> None:
        legs: list[Leg] = []
        left = list(self.pending)
        day = int(start // DAY_MINUTES)
        for offset in range(PLAN_DAYS):
            if not left:
                break
            opens = (day + offset) * DAY_MINUTES + WORK_START
            closes = (day + offset) * DAY_MINUTES + WORK_END
            begin = max(start, opens) if offset == 0 else opens
            place = here if offset == 0 else self.base
            kept, left = self._one_day(left, place, begin, opens, closes)
            legs.extend(kept)
        if left:
            raise RuntimeError(
                f"{len(left)} accepted visits fit in none of the next {PLAN_DAYS} "
                "days: raise PLAN_DAYS or lower the capacity"
            )
        self.plan = legs

    def due(self, minute: float) -> Leg | None:
        """Return the next leg if the agent sets off on it by `minute`, and fix it."""
        if not self.plan or self.plan[0].leave > minute:
            return None
        leg = self.plan.pop(0)
        self.pending.remove(leg.target)
        return leg

    def _one_day(
        self,
        visits: list[SimVisit],
        here: Place,
        begin: float,
        opens: float,
        closes: float,
    ) -> tuple[list[Leg], list[SimVisit]]:
        if begin >= closes:
            return [], visits
        by_id = {v.visit_id: v for v in visits}
        anytime = ((EPOCH, EPOCH + timedelta(days=3650)),)
        route = plan_route(
            DayPlan(
                start=here,
                start_at=at(begin),
                speed_kmh=self.speed_m_a_minute * 60 / 1000,
                service=timedelta(minutes=self.service_minutes),
                stops=tuple(
                    RouteStop(v.visit_id, Place(v.lat, v.lon), anytime) for v in visits
                ),
                working=((at(opens), at(closes)),),
                return_to=self.base,
                detour_factor=self.detour_factor,
            )
        )
        minutes = _minutes_since_epoch
        legs = [
            Leg(
                target=by_id[s.visit_id],
                leave=minutes(s.arrival) - s.leg_m / self.speed_m_a_minute,
                arrival=minutes(s.arrival),
            )
            for s in route.stops
        ]
        return legs, [by_id[d.visit_id] for d in route.dropped]


def _minutes_since_epoch(when: datetime) -> float:
    return (when - EPOCH).total_seconds() / 60
