"""The solver pool's time limit, fallback and worker replacement."""

import os
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
import pytest_asyncio

from matching.batch import (
    CandidateGraph,
    Fallback,
    SolverUsed,
    graph_from_edges,
    min_cost_flow,
)
from matching.solver_pool import SolverPool
from tests.fixtures.solvers import (
    SLOW_SOLVE_SECONDS,
    dying_min_cost_flow,
    slow_min_cost_flow,
    wait_until_gone,
)

TIME_LIMIT_SECONDS = 1.0


def steal_graph() -> CandidateGraph:
    """Two visits and two agents of one slot each, and agent 0 is best for both.

    Visit 1 has only agent 0, so the optimum gives visit 0 to agent 1. The
    greedy pass takes the cheapest edge first (visit 0, agent 0) and queues
    visit 1.
    """
    return graph_from_edges(
        visit_index=[0, 0, 1],
        agent_index=[0, 1, 0],
        distance_m=[500.0, 900.0, 600.0],
        score=[9.0, 8.0, 8.5],
        capacity=[1, 1],
        visit_count=2,
        best_score=10.0,
    )


def assignments(graph: CandidateGraph, chosen: np.ndarray) -> set[tuple[int, int]]:
    edges = np.flatnonzero(chosen)
    return set(
        zip(
            graph.visit_index[edges].tolist(),
            graph.agent_index[edges].tolist(),
            strict=True,
        )
    )


@pytest_asyncio.fixture
async def pool() -> AsyncIterator[SolverPool]:
    pool = SolverPool(time_limit_seconds=TIME_LIMIT_SECONDS)
    await pool.start()
    yield pool
    pool.close()


class TestSolverPool:
    async def test_solves_optimum_in_worker(self, pool: SolverPool) -> None:
        graph = steal_graph()

        solved = await pool.solve(graph)

        assert solved.solver == SolverUsed.MIN_COST_FLOW
        assert solved.fallback is None
        assert assignments(graph, solved.chosen) == {(0, 1), (1, 0)}
        assert pool.worker_pids
        assert os.getpid() not in pool.worker_pids

    async def test_empty_graph_needs_no_worker(self, pool: SolverPool) -> None:
        graph = graph_from_edges(
            visit_index=[],
            agent_index=[],
            distance_m=[],
            score=[],
            capacity=[],
            visit_count=3,
            best_score=10.0,
        )

        solved = await pool.solve(graph)

        assert solved.chosen.tolist() == []
        assert solved.fallback is None

    async def test_slow_solve_falls_back_to_greedy(self, pool: SolverPool) -> None:
        graph = steal_graph()
        await pool.solve(graph)
        stuck = pool.worker_pids
        pool.flow = slow_min_cost_flow

        started = time.monotonic()
        solved = await pool.solve(graph)
        waited = time.monotonic() - started

        assert solved.solver == SolverUsed.GREEDY
        assert solved.fallback == Fallback.TIME_LIMIT
        assert assignments(graph, solved.chosen) == {(0, 0)}
        assert waited < SLOW_SOLVE_SECONDS / 2
        assert pool.replacements == 1
        await wait_until_gone(stuck)

    async def test_pool_solves_again_after_timeout(self, pool: SolverPool) -> None:
        graph = steal_graph()
        pool.flow = slow_min_cost_flow
        await pool.solve(graph)
        pool.flow = min_cost_flow

        solved = await pool.solve(graph)

        assert solved.solver == SolverUsed.MIN_COST_FLOW
        assert assignments(graph, solved.chosen) == {(0, 1), (1, 0)}

    async def test_dead_worker_falls_back_and_is_replaced(
        self, pool: SolverPool
    ) -> None:
        graph = steal_graph()
        pool.flow = dying_min_cost_flow

        solved = await pool.solve(graph)

        assert solved.solver == SolverUsed.GREEDY
        assert solved.fallback == Fallback.SOLVER_FAILED
        assert pool.replacements == 1

    async def test_unstarted_pool_raises(self) -> None:
        with pytest.raises(RuntimeError, match="not started"):
            await SolverPool(time_limit_seconds=1).solve(steal_graph())

    def test_time_limit_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="time_limit_seconds"):
            SolverPool(time_limit_seconds=0)
