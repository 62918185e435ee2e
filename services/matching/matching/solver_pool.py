"""Solve min-cost flows in a worker process, under a wall-clock limit.

The service runs asyncpg, aiokafka and the event loop's default executor,
so it has threads, and forking it could leave a lock taken in the child.
The pool starts its worker from a fork server instead: a fresh interpreter
started before any solve, which imports the solver once and forks workers
from itself. A solve that misses the limit is abandoned: the batch takes
the greedy result over the same graph, and the pool kills its worker and
starts a new one, so a stuck solver never holds up the next batch.
"""

import asyncio
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

import numpy as np
import structlog
from numpy.typing import NDArray

from matching.batch import (
    CandidateGraph,
    Fallback,
    SolverUsed,
    greedy,
    min_cost_flow,
)

log = structlog.get_logger(__name__)

FlowSolver = Callable[[CandidateGraph], NDArray[np.bool_] | None]

# Modules the fork server imports once, so that each new worker starts with
# NumPy and OR-tools loaded instead of importing them within a time limit.
PRELOADED_MODULES = ["matching.batch"]


@dataclass(frozen=True)
class SolvedGraph:
    """The chosen edges of a graph, the solver that chose them, and why."""

    chosen: NDArray[np.bool_]
    solver: SolverUsed
    fallback: Fallback | None
    seconds: float


class SolverPool:
    """One worker process that solves flows, replaced when a solve overruns.

    `flow` is the function the worker runs. It must be importable by name,
    because the worker receives it pickled.
    """

    def __init__(
        self, *, time_limit_seconds: float, flow: FlowSolver = min_cost_flow
    ) -> None:
        if time_limit_seconds <= 0:
            raise ValueError(
                f"time_limit_seconds must be above 0, not {time_limit_seconds}"
            )
        self.time_limit_seconds = time_limit_seconds
        self.flow = flow
        self._context = multiprocessing.get_context("forkserver")
        # Takes effect when the fork server starts, once per process.
        self._context.set_forkserver_preload(PRELOADED_MODULES)
        self._executor: ProcessPoolExecutor | None = None
        self.replacements = 0

    async def start(self) -> None:
        """Start the worker and wait until it is ready to solve."""
        self._executor = self._new_executor()
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, _ready)
        log.info(
            "solver_pool.started",
            seconds=round(time.perf_counter() - started, 3),
        )

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the pool's workers, empty before its first task."""
        return [pid for pid, _ in self._workers(self._executor)]

    def close(self) -> None:
        """Stop the worker, and kill a solve that still runs."""
        if self._executor is not None:
            self._kill_workers(self._executor)
            self._executor = None

    async def solve(self, graph: CandidateGraph) -> SolvedGraph:
        """Solve the flow within the time limit, else pass the graph greedily.

        A solve that fails or overruns returns the greedy result, with the
        reason in `fallback`. It never raises for a solver fault.
        """
        started = time.perf_counter()
        if not len(graph.cost):
            return SolvedGraph(
                np.zeros(0, dtype=bool), SolverUsed.MIN_COST_FLOW, None, 0.0
            )
        chosen, fallback = await self._flow_in_worker(graph)
        if chosen is None:
            chosen = greedy(graph)
            log.warning(
                "batch.greedy_fallback",
                reason=fallback,
                visits=graph.visit_count,
                edges=len(graph.cost),
                time_limit_seconds=self.time_limit_seconds,
            )
        solver = SolverUsed.MIN_COST_FLOW if fallback is None else SolverUsed.GREEDY
        return SolvedGraph(chosen, solver, fallback, time.perf_counter() - started)

    async def _flow_in_worker(
        self, graph: CandidateGraph
    ) -> tuple[NDArray[np.bool_] | None, Fallback | None]:
        if self._executor is None:
            raise RuntimeError("the solver pool is not started: await start() first")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.time_limit_seconds):
                answer = await loop.run_in_executor(self._executor, self.flow, graph)
        except TimeoutError:
            self._replace("time_limit")
            return None, Fallback.TIME_LIMIT
        except BrokenProcessPool:
            # The worker died (killed, or out of memory) during the solve.
            self._replace("worker_died")
            return None, Fallback.SOLVER_FAILED
        except Exception:
            log.exception("batch.solver_failed", edges=len(graph.cost))
            return None, Fallback.SOLVER_FAILED
        if answer is None:
            return None, Fallback.SOLVER_FAILED
        return answer, None

    def _replace(self, reason: str) -> None:
        """Kill the worker, which may still be solving, and start a new pool."""
        assert self._executor is not None
        killed = self.worker_pids
        self._kill_workers(self._executor)
        self._executor = self._new_executor()
        # Start the new worker now rather than within the next time limit.
        self._executor.submit(_ready)
        self.replacements += 1
        log.warning(
            "solver_pool.replaced",
            reason=reason,
            killed_pids=killed,
            replacements=self.replacements,
        )

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=1, mp_context=self._context)

    @staticmethod
    def _workers(
        executor: ProcessPoolExecutor | None,
    ) -> list[tuple[int, BaseProcess]]:
        # ProcessPoolExecutor has no public list of its processes in Python
        # 3.11, and no way to stop a task that is running, hence `_processes`.
        processes = getattr(executor, "_processes", None) or {}
        return list(processes.items())

    @classmethod
    def _kill_workers(cls, executor: ProcessPoolExecutor) -> None:
        # The pool's manager thread then finds the pool broken and reaps the
        # killed processes.
        for _, process in cls._workers(executor):
            if process.is_alive():
                process.kill()
        executor.shutdown(wait=False, cancel_futures=True)


def _ready() -> bool:
    """Run nothing; the first call makes the pool start its worker."""
    return True
