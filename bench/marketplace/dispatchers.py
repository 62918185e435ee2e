"""The two dispatchers the simulation compares.

Each is asked, at its own interval, which agent to offer each waiting
visit to. Both offer exclusively, never to an agent who declined or let an
offer to the same visit expire, and only to agents with free capacity.
"""

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bench.marketplace.city import (
    SimAgent,
    SimVisit,
    as_profile,
    as_request,
    at,
    distance_m,
)
from matching.batch import (
    COST_UNITS,
    CandidateGraph,
    SolverUsed,
    build_graph,
    greedy,
    min_cost_flow,
    solve_batch,
)
from matching.ranking import (
    AgentProfile,
    RankScales,
    RankWeights,
    VisitToRank,
    score_pairs,
)
from matching.route import Place, day_detour_m


@dataclass
class SolverClock:
    calls: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    greedy_fallbacks: int = 0

    def record(self, seconds: float) -> None:
        self.calls += 1
        self.seconds += seconds
        self.slowest = max(self.slowest, seconds)


@dataclass
class NearestFree:
    """Offer each waiting visit, oldest first, to its nearest free covering agent."""

    interval_minutes: int = 1
    name: str = "greedy nearest free agent"
    clock: SolverClock = field(default_factory=SolverClock)

    def choose(
        self, minute: int, waiting: Sequence[SimVisit], agents: Sequence[SimAgent]
    ) -> list[tuple[SimVisit, SimAgent]]:
        started = time.perf_counter()
        free = {a.index: a.free(minute) for a in agents}
        offers = []
        for target in waiting:
            reach = [
                (distance_m(a.lat, a.lon, target.lat, target.lon), a.index)
                for a in agents
                if free[a.index] > 0 and a.agent_id not in target.declined_by
            ]
            reach = [(d, i) for d, i in reach if d <= agents[i].radius_m]
            if reach:
                _, chosen = min(reach)
                free[chosen] -= 1
                offers.append((target, agents[chosen]))
        self.clock.record(time.perf_counter() - started)
        return offers


@dataclass
class BatchedFlow:
    """Solve the waiting visits as one min-cost flow batch, with the ranking."""

    weights: RankWeights
    scales: RankScales
    interval_minutes: int = 2
    k: int = 8
    time_limit_seconds: float = 5.0
    name: str = "batched min-cost flow"
    clock: SolverClock = field(default_factory=SolverClock)
    detours: bool = False
    """Score travel as the detour a visit adds to the agent's planned route."""

    def choose(
        self, minute: int, waiting: Sequence[SimVisit], agents: Sequence[SimAgent]
    ) -> list[tuple[SimVisit, SimAgent]]:
        if self.detours:
            return self._choose_by_detour(minute, waiting, agents)
        profiles = [as_profile(a, minute=minute) for a in agents]
        started = time.perf_counter()
        result = solve_batch(
            [as_request(v) for v in waiting],
            profiles,
            weights=self.weights,
            scales=self.scales,
            now=at(minute),
            k=self.k,
            time_limit_seconds=self.time_limit_seconds,
            excluded={v.visit_id: v.declined_by for v in waiting if v.declined_by},
        )
        self.clock.record(time.perf_counter() - started)
        if result.solver is SolverUsed.GREEDY:
            self.clock.greedy_fallbacks += 1
        by_visit = {v.visit_id: v for v in waiting}
        by_agent = {a.agent_id: a for a in agents}
        return [
            (by_visit[a.visit_id], by_agent[a.agent_id]) for a in result.assignments
        ]

    def _choose_by_detour(
        self, minute: int, waiting: Sequence[SimVisit], agents: Sequence[SimAgent]
    ) -> list[tuple[SimVisit, SimAgent]]:
        """Solve the batch with each edge's travel taken from the agent's route.

        Coverage and the k nearest agents still count from the base, as the
        candidate search does; only the travel each edge is scored on
        changes. The flow runs in this process, without a time limit.
        """
        requests = [as_request(v) for v in waiting]
        profiles = [as_profile(a, minute=minute) for a in agents]
        started = time.perf_counter()
        graph = build_graph(
            requests,
            profiles,
            weights=self.weights,
            scales=self.scales,
            now=at(minute),
            k=self.k,
            excluded={v.visit_id: v.declined_by for v in waiting if v.declined_by},
        )
        graph = self._recost(graph, requests, profiles, agents, minute)
        chosen = min_cost_flow(graph) if len(graph.cost) else None
        if chosen is None:
            chosen = greedy(graph)
            self.clock.greedy_fallbacks += bool(len(graph.cost))
        self.clock.record(time.perf_counter() - started)
        edges = np.flatnonzero(chosen).tolist()
        return [
            (waiting[graph.visit_index[e]], agents[graph.agent_index[e]]) for e in edges
        ]

    def _recost(
        self,
        graph: CandidateGraph,
        requests: Sequence[VisitToRank],
        profiles: Sequence[AgentProfile],
        agents: Sequence[SimAgent],
        minute: int,
    ) -> CandidateGraph:
        paths = {
            a.index: [Place(*p) for p in a.route_path] or [Place(a.lat, a.lon)]
            for a in agents
        }
        detour = np.array(
            [
                day_detour_m(
                    paths[int(a)][0],
                    paths[int(a)][1:],
                    Place(requests[v].lat, requests[v].lon),
                )
                for v, a in zip(graph.visit_index, graph.agent_index, strict=True)
            ],
            dtype=np.float64,
        )
        _, normalised = score_pairs(
            requests,
            profiles,
            visit_index=graph.visit_index,
            agent_index=graph.agent_index,
            distance_m=detour,
            scales=self.scales,
            now=at(minute),
        )
        score = normalised @ self.weights.as_array()
        best = self.weights.total
        shortfall = np.clip((best - score) / best, 0.0, 1.0)
        cost = np.rint(shortfall * COST_UNITS).astype(np.int64)
        return dataclasses.replace(graph, distance_m=detour, score=score, cost=cost)
