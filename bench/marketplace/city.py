"""A simulated day in Mexico City: real localities, made-up agents and visits.

Places come from the GeoNames extract that ingest's gazetteer reads. The
extract gives no population, only places of 1,000 people or more, so each
listed locality counts as one unit of population: agents and visits are
drawn locality by locality, uniformly, and scattered around it. Where
settlement is dense, localities are dense, and so are agents and visits.
"""

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ingest.geocoding.gazetteer import Place, packaged_index
from matching.models import TravelMode
from matching.neighbours import nearest_covering
from matching.ranking import AgentProfile, VisitToRank

CENTRE = (19.4326, -99.1332)  # Zócalo, Mexico City
AGENT_AREA_KM = 45.0
VISIT_AREA_KM = 45.0
SCATTER_KM = 1.5
DAY_MINUTES = 24 * 60
WORK_START, WORK_END = 8 * 60, 20 * 60
REQUESTS_START, REQUESTS_END = 8 * 60, 18 * 60
DEADLINE_MINUTES = 72 * 60
EPOCH = datetime(2026, 3, 2, tzinfo=UTC)  # minute 0 of the simulation


@dataclass(frozen=True)
class Behaviour:
    """Chances that an agent accepts or declines an offer; otherwise it ignores it."""

    accept: float
    decline: float


RELIABLE = Behaviour(accept=0.85, decline=0.10)
FLAKY = Behaviour(accept=0.45, decline=0.30)
FLAKY_SHARE = 0.4

# Travel mode, share of agents and coverage radius in meters.
MODES = (
    (TravelMode.MOTORCYCLE, 0.5, 12_000),
    (TravelMode.CAR, 0.2, 15_000),
    (TravelMode.BICYCLE, 0.15, 6_000),
    (TravelMode.WALK, 0.15, 3_000),
)


@dataclass
class SimAgent:
    index: int
    agent_id: uuid.UUID
    lat: float
    lon: float
    mode: TravelMode
    radius_m: float
    capacity: int
    behaviour: Behaviour
    offers_received: int = 0
    offers_accepted: int = 0
    visits_done: int = 0
    accepted_by_day: dict[int, int] = field(default_factory=dict)
    outstanding: int = 0
    # Where the agent is, then the accepted visits it has not set off to,
    # when it follows a route; empty for an agent with nothing accepted.
    route_path: list[tuple[float, float]] = field(default_factory=list)

    def free(self, minute: int) -> int:
        accepted = self.accepted_by_day.get(minute // DAY_MINUTES, 0)
        return max(self.capacity - accepted - self.outstanding, 0)


@dataclass
class SimVisit:
    index: int
    visit_id: uuid.UUID
    lat: float
    lon: float
    requested_at: int
    balance: float
    days_past_due: int
    covered: bool = False
    declined_by: set[uuid.UUID] = field(default_factory=set)
    offered: bool = False
    assigned_at: int | None = None
    agent: int | None = None
    visited_at: float | None = None

    @property
    def deadline(self) -> int:
        return self.requested_at + DEADLINE_MINUTES


@dataclass(frozen=True)
class City:
    places: int
    agents: list[SimAgent]
    visits: list[SimVisit]


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlam = phi2 - phi1, math.radians(lon2 - lon1)
    h = (
        math.sin(dphi / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def localities(radius_km: float) -> list[Place]:
    unique = {
        (p.name, p.lat, p.lon): p
        for group in packaged_index().by_name.values()
        for p in group
    }
    return sorted(
        (
            p
            for p in unique.values()
            if distance_m(*CENTRE, p.lat, p.lon) <= radius_km * 1e3
        ),
        key=lambda p: (p.lat, p.lon, p.name),
    )


def build_city(*, agents: int, visits: int, capacity: int, seed: int) -> City:
    rng = random.Random(seed)
    agent_places, visit_places = localities(AGENT_AREA_KM), localities(VISIT_AREA_KM)
    built_agents = [
        _agent(i, rng.choice(agent_places), capacity, rng) for i in range(agents)
    ]
    arrivals = sorted(rng.uniform(REQUESTS_START, REQUESTS_END) for _ in range(visits))
    built_visits = [
        _visit(i, rng.choice(visit_places), int(minute), rng)
        for i, minute in enumerate(arrivals)
    ]
    requests = [as_request(v) for v in built_visits]
    profiles = [as_profile(a, minute=0) for a in built_agents]
    covered, _, _ = nearest_covering(requests, profiles, k=1)
    for index in covered.tolist():
        built_visits[index].covered = True
    return City(places=len(visit_places), agents=built_agents, visits=built_visits)


def _scatter(place: Place, rng: random.Random) -> tuple[float, float]:
    reach = SCATTER_KM * 1e3 * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    lat = place.lat + reach * math.cos(bearing) / 111_195
    lon = place.lon + reach * math.sin(bearing) / (
        111_195 * math.cos(math.radians(lat))
    )
    return lat, lon


def _agent(index: int, place: Place, capacity: int, rng: random.Random) -> SimAgent:
    mode, _, radius = rng.choices(MODES, weights=[share for _, share, _ in MODES])[0]
    lat, lon = _scatter(place, rng)
    return SimAgent(
        index=index,
        agent_id=uuid.UUID(int=rng.getrandbits(128)),
        lat=lat,
        lon=lon,
        mode=mode,
        radius_m=radius,
        capacity=capacity,
        behaviour=FLAKY if rng.random() < FLAKY_SHARE else RELIABLE,
    )


def _visit(index: int, place: Place, minute: int, rng: random.Random) -> SimVisit:
    lat, lon = _scatter(place, rng)
    return SimVisit(
        index=index,
        visit_id=uuid.UUID(int=rng.getrandbits(128)),
        lat=lat,
        lon=lon,
        requested_at=minute,
        balance=round(rng.lognormvariate(9.0, 1.0), 2),
        days_past_due=rng.randint(1, 240),
    )


def at(minute: float) -> datetime:
    return EPOCH + timedelta(minutes=minute)


def as_request(target: SimVisit) -> VisitToRank:
    return VisitToRank(
        visit_id=target.visit_id,
        lat=target.lat,
        lon=target.lon,
        deadline=at(target.deadline),
        balance_overdue=target.balance,
        days_past_due=target.days_past_due,
    )


def as_profile(agent: SimAgent, *, minute: int) -> AgentProfile:
    return AgentProfile(
        agent_id=agent.agent_id,
        lat=agent.lat,
        lon=agent.lon,
        travel_mode=agent.mode,
        coverage_radius_m=agent.radius_m,
        free_capacity=agent.free(minute),
        offers_received=agent.offers_received,
        offers_accepted=agent.offers_accepted,
        assignments_ended=agent.visits_done,
        visits_completed=agent.visits_done,
    )
