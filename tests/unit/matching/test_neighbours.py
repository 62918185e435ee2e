import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from matching.neighbours import EARTH_RADIUS_M, nearest_covering
from matching.ranking import AgentProfile, VisitToRank
from tests.fixtures.matching import agent, visit


def haversine_m(a: VisitToRank, b: AgentProfile) -> float:
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlam = phi2 - phi1, math.radians(b.lon - a.lon)
    h = (
        math.sin(dphi / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def expected_distances(
    visits: list[VisitToRank], agents: list[AgentProfile], k: int
) -> list[list[float]]:
    """Each visit's k shortest distances to a free agent that covers it."""
    return [
        sorted(
            haversine_m(target, profile)
            for profile in agents
            if profile.free_capacity > 0
            and haversine_m(target, profile) <= profile.coverage_radius_m
        )[:k]
        for target in visits
    ]


coordinates = st.tuples(st.floats(14.5, 32.7), st.floats(-117.1, -86.7))


class TestNearestCovering:
    @given(
        st.lists(coordinates, min_size=1, max_size=8),
        st.lists(
            st.tuples(coordinates, st.floats(1_000, 200_000), st.integers(0, 2)),
            min_size=1,
            max_size=12,
        ),
        st.integers(1, 4),
    )
    def test_matches_a_scan_of_every_agent(
        self,
        places: list[tuple[float, float]],
        bases: list[tuple[tuple[float, float], float, int]],
        k: int,
    ) -> None:
        visits = [visit(n, lat=lat, lon=lon) for n, (lat, lon) in enumerate(places)]
        agents = [
            agent(n, lat=lat, lon=lon, coverage_radius_m=radius, free_capacity=free)
            for n, ((lat, lon), radius, free) in enumerate(bases)
        ]

        visit_index, agent_index, distance_m = nearest_covering(visits, agents, k=k)

        expected = expected_distances(visits, agents, k)
        found: list[list[float]] = [[] for _ in visits]
        for v, a, d in zip(visit_index, agent_index, distance_m, strict=True):
            assert math.isclose(d, haversine_m(visits[v], agents[a]), abs_tol=0.01)
            assert agents[a].free_capacity > 0
            found[v].append(d)
        # Agents tied at the k-th place may be swapped, their distances not.
        for got, want in zip(found, expected, strict=True):
            assert np.allclose(sorted(got), want, atol=0.01)

    def test_widens_past_near_agents_that_do_not_cover(self) -> None:
        near = [
            agent(n, lat=19.43 + 0.001 * n, coverage_radius_m=50) for n in range(1, 9)
        ]
        far = agent(20, lat=19.53, coverage_radius_m=20_000)

        _, agent_index, _ = nearest_covering([visit()], [*near, far], k=1)

        assert agent_index.tolist() == [8]

    def test_no_free_agent_gives_no_pair(self) -> None:
        visit_index, _, _ = nearest_covering([visit()], [agent(free_capacity=0)], k=3)

        assert len(visit_index) == 0
