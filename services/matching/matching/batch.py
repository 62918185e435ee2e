"""Assign a batch of visits to agents' free capacity, all at once.

Dispatching visits one by one lets a visit that arrives a second earlier
take the agent who is the only one near the next visit. Solving the batch
as a min-cost flow avoids that. Every visit sends one unit of flow, either
through one of its candidate agents or straight to the sink at a queueing
penalty. An edge costs how far its score falls short of the best possible,
and each agent passes at most its free capacity. Queueing a visit costs more
than moving every other visit of the batch to its worst edge, so the flow
places as many visits as the graph allows, and the cheapest way among
those. A batch with more visits than capacity thus ends with the best
partial assignment and the rest queued.

The graph comes from one of two places. `build_graph` keeps each visit's k
nearest agents whose coverage radius reaches it, from a k-d tree, for the
benchmark. `graph_from_edges` takes edges that dispatch's candidate rules
found in the database (`matching.batching`). OR-tools keeps the interpreter
lock while it solves, so the solver runs in another process that is killed
at the time limit, and the batch falls back to a greedy pass over the same
graph. The service solves in a pool started before its threads
(`matching.solver_pool`). `solve_batch` forks a child per solve, which is
safe only in a process without other threads, such as the benchmark.
"""

import multiprocessing
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext

import numpy as np
import structlog
from numpy.typing import NDArray
from ortools.graph.python.min_cost_flow import SimpleMinCostFlow

from matching.neighbours import nearest_covering
from matching.ranking import (
    AgentProfile,
    RankScales,
    RankWeights,
    VisitToRank,
    score_pairs,
)

log = structlog.get_logger(__name__)

# An edge costs between 0 (the highest possible score) and this (score 0).
COST_UNITS = 1_000_000

IntArray = NDArray[np.int64]


class SolverUsed(StrEnum):
    MIN_COST_FLOW = "min_cost_flow"
    GREEDY = "greedy"


class Fallback(StrEnum):
    """Reason a batch was solved by the greedy pass."""

    TIME_LIMIT = "time_limit"
    SOLVER_FAILED = "solver_failed"


@dataclass(frozen=True)
class CandidateGraph:
    """The pruned bipartite graph: one entry per (visit, agent) edge."""

    visit_index: NDArray[np.intp]
    agent_index: NDArray[np.intp]
    distance_m: NDArray[np.float64]
    score: NDArray[np.float64]
    cost: IntArray
    capacity: IntArray
    queue_cost: int
    visit_count: int


@dataclass(frozen=True)
class BatchAssignment:
    visit_id: uuid.UUID
    agent_id: uuid.UUID
    distance_m: float
    score: float


@dataclass(frozen=True)
class BatchResult:
    """The assignments, the visits left queued and how they were found.

    `cost` is the objective on the pruned graph: the edge costs of the
    assignments plus `queue_cost` for each queued visit. `fallback` is the
    reason the greedy pass was used, or None.
    """

    assignments: list[BatchAssignment]
    queued: list[uuid.UUID]
    solver: SolverUsed
    fallback: Fallback | None
    cost: int
    edges: int
    seconds: float


def build_graph(
    visits: Sequence[VisitToRank],
    agents: Sequence[AgentProfile],
    *,
    weights: RankWeights,
    scales: RankScales,
    now: datetime,
    k: int,
    queue_penalty: float = 1.0,
    excluded: Mapping[uuid.UUID, Collection[uuid.UUID]] | None = None,
) -> CandidateGraph:
    """Prune to each visit's k nearest covering agents and cost the edges.

    `queue_penalty` is added to what leaving a visit queued costs, as a
    share of the highest score (see `_queue_cost`). `excluded` lists, by
    visit id, the agents the visit must not go to.
    """
    visit_index, agent_index, distance_m = nearest_covering(
        visits, agents, k=k, excluded=excluded
    )
    _, normalised = score_pairs(
        visits,
        agents,
        visit_index=visit_index,
        agent_index=agent_index,
        distance_m=distance_m,
        scales=scales,
        now=now,
    )
    score = normalised @ weights.as_array()
    return CandidateGraph(
        visit_index=visit_index,
        agent_index=agent_index,
        distance_m=distance_m,
        score=score,
        cost=_edge_costs(score, best_score=weights.total),
        capacity=np.array([max(a.free_capacity, 0) for a in agents], dtype=np.int64),
        queue_cost=_queue_cost(queue_penalty, visit_count=len(visits)),
        visit_count=len(visits),
    )


def graph_from_edges(
    *,
    visit_index: Sequence[int],
    agent_index: Sequence[int],
    distance_m: Sequence[float],
    score: Sequence[float],
    capacity: Sequence[int],
    visit_count: int,
    best_score: float,
    queue_penalty: float = 1.0,
) -> CandidateGraph:
    """Build the graph from edges that the caller found and scored.

    Each edge joins visit `visit_index[i]` (0 to `visit_count` - 1) to agent
    `agent_index[i]`, whose free capacity is `capacity[agent_index[i]]`.
    `best_score` is the highest score any edge could reach (the sum of the
    ranking weights), and an edge costs how far its score falls short of it.
    """
    visits = np.asarray(visit_index, dtype=np.intp)
    agents = np.asarray(agent_index, dtype=np.intp)
    scores = np.asarray(score, dtype=np.float64)
    distances = np.asarray(distance_m, dtype=np.float64)
    free = np.maximum(np.asarray(capacity, dtype=np.int64), 0)
    _check_edges(visits, agents, [scores, distances], visit_count, len(free))
    return CandidateGraph(
        visit_index=visits,
        agent_index=agents,
        distance_m=distances,
        score=scores,
        cost=_edge_costs(scores, best_score=best_score),
        capacity=free,
        queue_cost=_queue_cost(queue_penalty, visit_count=visit_count),
        visit_count=visit_count,
    )


def _check_edges(
    visits: NDArray[np.intp],
    agents: NDArray[np.intp],
    columns: Sequence[NDArray[np.float64]],
    visit_count: int,
    agent_count: int,
) -> None:
    lengths = {len(visits), len(agents), *(len(column) for column in columns)}
    if len(lengths) != 1:
        raise ValueError(f"edge arrays differ in length: {sorted(lengths)}")
    if len(visits) and not (0 <= visits.min() and visits.max() < visit_count):
        raise ValueError(f"a visit index lies outside 0..{visit_count - 1}")
    if len(agents) and not (0 <= agents.min() and agents.max() < agent_count):
        raise ValueError(
            f"an agent index lies outside 0..{agent_count - 1}, the agents "
            "that have a capacity"
        )


def _edge_costs(score: NDArray[np.float64], *, best_score: float) -> IntArray:
    """Return each edge's shortfall from `best_score`, scaled to 0..COST_UNITS."""
    if best_score > 0:
        shortfall = (best_score - score) / best_score
    else:
        shortfall = np.zeros_like(score)
    return np.rint(np.clip(shortfall, 0.0, 1.0) * COST_UNITS).astype(np.int64)


def _queue_cost(queue_penalty: float, *, visit_count: int) -> int:
    """Return what queueing a visit costs.

    Placing one more visit may move each of the other visits to another
    edge, and each move changes the cost by at most COST_UNITS. Queueing
    costs more than all of those moves together, so the flow never queues a
    visit that some rearrangement could place. 50,000 visits make it about
    5e10, far inside the solver's 64-bit costs.
    """
    return (visit_count + 1) * COST_UNITS + round(queue_penalty * COST_UNITS)


def solve_batch(
    visits: Sequence[VisitToRank],
    agents: Sequence[AgentProfile],
    *,
    weights: RankWeights,
    scales: RankScales,
    now: datetime,
    k: int = 8,
    time_limit_seconds: float = 5.0,
    queue_penalty: float = 1.0,
    excluded: Mapping[uuid.UUID, Collection[uuid.UUID]] | None = None,
) -> BatchResult:
    """Assign the batch, optimally unless the solver misses the time limit.

    The limit counts from the call, so pruning uses part of it. When it is
    spent, the greedy pass gives the answer instead (0.3 s at 400,000 edges
    on a 2-core machine).
    """
    started = time.perf_counter()
    graph = build_graph(
        visits,
        agents,
        weights=weights,
        scales=scales,
        now=now,
        k=k,
        queue_penalty=queue_penalty,
        excluded=excluded,
    )
    remaining = time_limit_seconds - (time.perf_counter() - started)
    if not len(graph.cost):
        chosen, fallback = np.zeros(0, dtype=bool), None
    elif remaining > 0:
        chosen, fallback = _flow_in_child(graph, remaining)
    else:
        chosen, fallback = None, Fallback.TIME_LIMIT
    if chosen is None:
        chosen = greedy(graph)
        log.warning(
            "batch.greedy_fallback",
            reason=fallback,
            visits=len(visits),
            edges=len(graph.cost),
            time_limit_seconds=time_limit_seconds,
        )
    return _result(graph, chosen, visits, agents, fallback=fallback, started=started)


def greedy(graph: CandidateGraph) -> NDArray[np.bool_]:
    """Take edges cheapest first while the visit is free and the agent has room."""
    order = np.lexsort((graph.agent_index, graph.visit_index, graph.cost))
    room = graph.capacity.copy()
    served = np.zeros(graph.visit_count, dtype=bool)
    chosen = np.zeros(len(graph.cost), dtype=bool)
    for edge in order.tolist():
        visit, agent = graph.visit_index[edge], graph.agent_index[edge]
        if not served[visit] and room[agent] > 0:
            served[visit], chosen[edge] = True, True
            room[agent] -= 1
    return chosen


def min_cost_flow(graph: CandidateGraph) -> NDArray[np.bool_] | None:
    """Solve the flow in this process; None if OR-tools finds no optimum."""
    visits, agents, edges = graph.visit_count, len(graph.capacity), len(graph.cost)
    sink = visits + agents
    flow = SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        np.concatenate(
            [graph.visit_index, np.arange(visits), visits + np.arange(agents)]
        ),
        np.concatenate(
            [visits + graph.agent_index, np.full(visits, sink), np.full(agents, sink)]
        ),
        np.concatenate([np.ones(edges + visits, dtype=np.int64), graph.capacity]),
        np.concatenate(
            [graph.cost, np.full(visits, graph.queue_cost), np.zeros(agents, np.int64)]
        ),
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:visits], supplies[sink] = 1, -visits
    flow.set_nodes_supplies(np.arange(sink + 1), supplies)
    if flow.solve() != flow.OPTIMAL:
        return None
    return np.asarray(flow.flows(np.arange(edges))) > 0


def _context() -> ForkContext:
    # A forked child starts in milliseconds and inherits the graph without
    # copying it. The service's other threads do not exist in the child, so
    # a lock one of them held stays taken there. The child only touches
    # OR-tools, NumPy and its pipe, and if it stalls anyway, the time limit
    # kills it like any slow solve.
    return multiprocessing.get_context("fork")


def _flow_in_child(
    graph: CandidateGraph, timeout_seconds: float
) -> tuple[NDArray[np.bool_] | None, Fallback | None]:
    """Solve in a child process; return None and the reason when it fails."""
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child_main, args=(sender, graph), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(timeout_seconds):
            return None, Fallback.TIME_LIMIT
        answer: NDArray[np.bool_] | None = receiver.recv()
        return answer, None if answer is not None else Fallback.SOLVER_FAILED
    except EOFError:
        log.error("batch.solver_died", exitcode=child.exitcode)
        return None, Fallback.SOLVER_FAILED
    finally:
        child.kill()
        child.join()
        receiver.close()


def _child_main(sender: Connection, graph: CandidateGraph) -> None:
    sender.send(min_cost_flow(graph))
    sender.close()


def _result(
    graph: CandidateGraph,
    chosen: NDArray[np.bool_],
    visits: Sequence[VisitToRank],
    agents: Sequence[AgentProfile],
    *,
    fallback: Fallback | None,
    started: float,
) -> BatchResult:
    edges = np.flatnonzero(chosen)
    assignments = [
        BatchAssignment(
            visit_id=visits[graph.visit_index[e]].visit_id,
            agent_id=agents[graph.agent_index[e]].agent_id,
            distance_m=float(graph.distance_m[e]),
            score=float(graph.score[e]),
        )
        for e in edges.tolist()
    ]
    served = np.zeros(graph.visit_count, dtype=bool)
    served[graph.visit_index[edges]] = True
    queued = [visits[i].visit_id for i in np.flatnonzero(~served).tolist()]
    return BatchResult(
        assignments=assignments,
        queued=queued,
        solver=SolverUsed.MIN_COST_FLOW if fallback is None else SolverUsed.GREEDY,
        fallback=fallback,
        cost=int(graph.cost[edges].sum()) + graph.queue_cost * len(queued),
        edges=len(graph.cost),
        seconds=time.perf_counter() - started,
    )
