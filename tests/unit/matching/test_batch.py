import itertools
import math
import time
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import batch
from matching.batch import (
    BatchResult,
    CandidateGraph,
    Fallback,
    SolverUsed,
    build_graph,
    graph_from_edges,
    greedy,
    min_cost_flow,
    solve_batch,
)
from matching.ranking import AgentProfile, VisitToRank
from tests.fixtures.matching import NOW, agent, ranking, visit

WEIGHTS, SCALES = ranking()
# One degree of longitude at the fixtures' latitude, in meters.
METERS_PER_DEGREE_LON = 111_195 * math.cos(math.radians(19.43))


def east(meters: float) -> float:
    return -99.13 + meters / METERS_PER_DEGREE_LON


def solve(
    visits: list[VisitToRank], agents: list[AgentProfile], **options: Any
) -> BatchResult:
    return solve_batch(
        visits, agents, weights=WEIGHTS, scales=SCALES, now=NOW, k=8, **options
    )


def graph_of(
    visits: list[VisitToRank], agents: list[AgentProfile], k: int = 8
) -> CandidateGraph:
    return build_graph(visits, agents, weights=WEIGHTS, scales=SCALES, now=NOW, k=k)


def brute_force_cost(graph: CandidateGraph) -> int:
    """Return the minimum objective over all ways to give each visit an edge or none."""
    options: list[list[int | None]] = [[None] for _ in range(graph.visit_count)]
    for edge, visit_number in enumerate(graph.visit_index.tolist()):
        options[visit_number].append(edge)
    best = math.inf
    for choice in itertools.product(*options):
        edges = [e for e in choice if e is not None]
        load = Counter(graph.agent_index[e] for e in edges)
        if any(load[a] > graph.capacity[a] for a in load):
            continue
        cost = sum(int(graph.cost[e]) for e in edges)
        best = min(best, cost + graph.queue_cost * (len(choice) - len(edges)))
    return int(best)


def assert_valid(
    result: BatchResult, visits: list[VisitToRank], agents: list[AgentProfile]
) -> None:
    visit_ids = [a.visit_id for a in result.assignments]
    assert len(visit_ids) == len(set(visit_ids))
    assert set(visit_ids) | set(result.queued) == {v.visit_id for v in visits}
    assert not set(visit_ids) & set(result.queued)
    load = Counter(a.agent_id for a in result.assignments)
    for profile in agents:
        assert load[profile.agent_id] <= max(profile.free_capacity, 0)
    reach = {p.agent_id: p.coverage_radius_m for p in agents}
    assert all(a.distance_m <= reach[a.agent_id] for a in result.assignments)


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[VisitToRank], list[AgentProfile], int]:
    spot = st.floats(-6_000, 6_000)
    visits = [
        visit(n, lon=east(draw(spot)), days_past_due=draw(st.integers(0, 200)))
        for n in range(draw(st.integers(1, 5)))
    ]
    agents = [
        agent(
            n,
            lon=east(draw(spot)),
            coverage_radius_m=draw(st.floats(1_000, 8_000)),
            free_capacity=draw(st.integers(0, 2)),
            visits_completed=draw(st.integers(0, 30)),
        )
        for n in range(draw(st.integers(1, 4)))
    ]
    return visits, agents, draw(st.integers(1, 3))


class TestSolveBatch:
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(instances())
    def test_matches_brute_force_and_respects_capacity(
        self, instance: tuple[list[VisitToRank], list[AgentProfile], int]
    ) -> None:
        visits, agents, k = instance
        graph = graph_of(visits, agents, k)

        result = solve_batch(
            visits, agents, weights=WEIGHTS, scales=SCALES, now=NOW, k=k
        )

        assert result.solver is SolverUsed.MIN_COST_FLOW
        assert result.cost == brute_force_cost(graph)
        assert_valid(result, visits, agents)

    def test_batch_keeps_only_agent_for_its_visit(self) -> None:
        # Visit 1 lies 1.5 km from agent A and 2.5 km from agent B. Visit 2
        # is 2 km from A and out of B's reach. Nearest first gives A to
        # visit 1 and leaves visit 2 without an agent.
        agents = [
            agent(1, lon=east(0), coverage_radius_m=3_000),
            agent(2, lon=east(4_000), coverage_radius_m=3_000),
        ]
        visits = [visit(1, lon=east(1_500)), visit(2, lon=east(-2_000))]
        graph = graph_of(visits, agents)

        nearest_first = graph.visit_index[greedy(graph)]
        result = solve(visits, agents)

        assert nearest_first.tolist() == [0]
        assert {(a.visit_id, a.agent_id) for a in result.assignments} == {
            (visits[0].visit_id, agents[1].agent_id),
            (visits[1].visit_id, agents[0].agent_id),
        }
        assert result.queued == []

    def test_infeasible_batch_queues_least_overdue(self) -> None:
        visits = [visit(n, days_past_due=30 * n) for n in range(5)]
        agents = [agent(1, free_capacity=2)]

        result = solve(visits, agents)

        assert result.solver is SolverUsed.MIN_COST_FLOW
        assert {a.visit_id for a in result.assignments} == {
            visits[3].visit_id,
            visits[4].visit_id,
        }
        assert result.queued == [v.visit_id for v in visits[:3]]
        assert_valid(result, visits, agents)

    def test_visit_out_of_every_coverage_is_queued(self) -> None:
        visits = [visit(1, lon=east(50_000)), visit(2)]
        agents = [agent(1, coverage_radius_m=5_000, free_capacity=3)]

        result = solve(visits, agents)

        assert [a.visit_id for a in result.assignments] == [visits[1].visit_id]
        assert result.queued == [visits[0].visit_id]

    def test_full_agents_get_nothing(self) -> None:
        result = solve([visit(1)], [agent(1, free_capacity=0)])

        assert result.assignments == []
        assert result.edges == 0

    def test_empty_batch(self) -> None:
        result = solve([], [agent(1)])

        assert result.assignments == []
        assert result.queued == []


class TestTimeLimit:
    def test_no_time_left_falls_back_to_greedy(self) -> None:
        visits = [visit(n, lon=east(300 * n)) for n in range(6)]
        agents = [agent(n, lon=east(500 * n), free_capacity=2) for n in range(3)]

        result = solve(visits, agents, time_limit_seconds=0)

        assert result.solver is SolverUsed.GREEDY
        assert result.fallback is Fallback.TIME_LIMIT
        assert len(result.assignments) == 6
        assert_valid(result, visits, agents)

    def test_hanging_solver_is_abandoned(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(batch, "_child_main", hanging_solver)
        visits, agents = [visit(1), visit(2)], [agent(1, free_capacity=1)]
        started = time.monotonic()

        result = solve(visits, agents, time_limit_seconds=1.0)

        assert time.monotonic() - started < HANG_SECONDS
        assert result.fallback is Fallback.TIME_LIMIT
        assert len(result.assignments) == 1
        assert_valid(result, visits, agents)

    def test_dead_solver_falls_back_to_greedy(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(batch, "_child_main", dying_solver)

        result = solve([visit(1)], [agent(1)], time_limit_seconds=30)

        assert result.fallback is Fallback.SOLVER_FAILED
        assert len(result.assignments) == 1


class TestGreedy:
    def test_takes_cheapest_edges_within_capacity(self) -> None:
        visits = [visit(n, lon=east(100 * n)) for n in range(4)]
        agents = [agent(1, free_capacity=2), agent(2, lon=east(9_000))]
        graph = graph_of(visits, agents)

        chosen = greedy(graph)

        assert np.bincount(graph.agent_index[chosen], minlength=2).tolist() == [2, 1]


HANG_SECONDS = 60


def hanging_solver(sender: Connection, graph: CandidateGraph) -> None:
    time.sleep(HANG_SECONDS)


def dying_solver(sender: Connection, graph: CandidateGraph) -> None:
    sender.close()


class TestExclusions:
    def test_declined_agent_is_skipped_for_that_visit_only(self) -> None:
        agents = [agent(1), agent(2, lon=east(2_000), free_capacity=2)]
        visits = [visit(1), visit(2, lon=east(100))]

        result = solve(
            visits, agents, excluded={visits[0].visit_id: {agents[0].agent_id}}
        )

        given_to = {a.visit_id: a.agent_id for a in result.assignments}
        assert given_to[visits[0].visit_id] == agents[1].agent_id
        assert given_to[visits[1].visit_id] == agents[0].agent_id


class TestGraphFromEdges:
    def edges(self, **changes: Any) -> CandidateGraph:
        values: dict[str, Any] = {
            "visit_index": [0, 0, 1],
            "agent_index": [0, 1, 0],
            "distance_m": [500.0, 900.0, 600.0],
            "score": [9.0, 8.0, 8.5],
            "capacity": [1, 1],
            "visit_count": 2,
            "best_score": 10.0,
        }
        return graph_from_edges(**{**values, **changes})

    def test_costs_shortfall_from_best_score(self) -> None:
        graph = self.edges()

        assert graph.cost.tolist() == [100_000, 200_000, 150_000]
        assert graph.queue_cost > graph.cost.max()

    def test_flow_places_a_chain_rather_than_queue(self) -> None:
        # V0 covers only A0, which V1 prefers; V1 and V2 each have a second
        # choice. Placing all three moves V1 and V2 to their worse edges,
        # which still beats leaving V0 queued while A2 stays free.
        graph = graph_from_edges(
            visit_index=[0, 1, 1, 2, 2],
            agent_index=[0, 0, 1, 1, 2],
            score=[0.1, 0.9, 0.3, 0.9, 0.3],
            distance_m=[1000.0] * 5,
            capacity=[1, 1, 1],
            visit_count=3,
            best_score=1.0,
        )

        chosen = min_cost_flow(graph)

        assert chosen is not None
        placed = {int(graph.visit_index[e]) for e in chosen.nonzero()[0]}
        assert placed == {0, 1, 2}

    def test_min_cost_flow_keeps_only_agent_for_visit(self) -> None:
        graph = self.edges()

        chosen = batch.min_cost_flow(graph)

        assert chosen is not None
        assert chosen.tolist() == [False, True, True]
        assert greedy(graph).tolist() == [True, False, False]

    def test_negative_capacity_counts_as_full(self) -> None:
        graph = self.edges(capacity=[-2, 1])

        assert graph.capacity.tolist() == [0, 1]

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"score": [9.0, 8.0]}, "differ in length"),
            ({"visit_index": [0, 0, 2]}, "visit index"),
            ({"agent_index": [0, 1, 2]}, "agent index"),
            ({"agent_index": [0, -1, 0]}, "agent index"),
        ],
    )
    def test_malformed_edges_raise(self, changes: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            self.edges(**changes)
