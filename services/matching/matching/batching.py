"""The batch pass: place the pending visits of offer and assign mode together.

Each batch reads up to MATCHING_BATCH_MAX_VISITS pending requests, earliest
deadline first, and finds each one's candidates by the rules of dispatch:
`find_candidates`, `order_candidates` and the visiting hours. It solves a
min-cost flow over those edges and the agents' free capacity
(`matching.batch`), then places each chosen visit with its agent in a
transaction of its own. A visit the solver leaves out stays pending, or
ends unmatched by the same rules as `dispatch`. Broadcast requests are
never batched, because each goes to several agents at once.
"""

import dataclasses
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching import repository
from matching.batch import CandidateGraph, graph_from_edges
from matching.candidates import candidate_rules
from matching.dispatch import (
    DispatchOutcome,
    Emit,
    place,
    reachable_candidates,
    unmatch,
    unmatched_reason,
)
from matching.ordering import (
    BatchRanking,
    OrderedCandidate,
    day_detours,
    order_candidates,
)
from matching.ranking import ranking_from_settings
from matching.settings import MatchingSettings
from matching.solver_pool import SolverPool
from shared.events.payloads import DispatchMode

log = structlog.get_logger(__name__)

BATCHED_MODES = (DispatchMode.OFFER, DispatchMode.ASSIGN)


@dataclass(frozen=True)
class WaitingVisit:
    """A pending request as the batch read it, with its candidates best first."""

    request: Row[Any]
    candidates: list[OrderedCandidate]


async def batch_pending(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    emit: Emit,
    settings: MatchingSettings,
    solver: SolverPool,
    now: datetime | None = None,
) -> Counter[DispatchOutcome]:
    """Place every pending request of a batched mode, one batch after another.

    Each batch is placed before the next is read, so the assignments of the
    earlier batches count against the capacity of the later ones. `now`
    fixes the clock, for tests, and else each step reads it. Returns the
    count of each outcome.
    """
    outcomes: Counter[DispatchOutcome] = Counter()
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        visits = await read_batch(sessionmaker, settings=settings, after=after, now=now)
        if visits:
            outcomes += await place_batch(
                sessionmaker,
                visits,
                emit=emit,
                settings=settings,
                solver=solver,
                now=now,
            )
        if len(visits) < settings.batch_max_visits:
            return outcomes
        last = visits[-1].request
        after = (last.deadline, last.visit_id)


async def read_batch(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    settings: MatchingSettings,
    after: tuple[datetime, uuid.UUID] | None = None,
    now: datetime | None = None,
) -> list[WaitingVisit]:
    """Read the next batch of pending requests and each one's candidates.

    Nothing is locked: the requests may change before they are placed, and
    `place_batch` checks each one again under its lock.
    """
    now = now or datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        requests = await repository.batchable_requests(
            session, modes=BATCHED_MODES, after=after, limit=settings.batch_max_visits
        )
        return [
            WaitingVisit(request, await _candidates(session, request, settings, now))
            for request in requests
        ]


async def _candidates(
    session: AsyncSession,
    request: Row[Any],
    settings: MatchingSettings,
    now: datetime,
) -> list[OrderedCandidate]:
    if unmatched_reason(request, now) is not None:
        return []
    found = await repository.find_candidates(
        session,
        request.visit_id,
        rules=candidate_rules(request, now=now, settings=settings),
        limit=settings.max_candidates,
    )
    ordered = order_candidates(
        request,
        found,
        now=now,
        settings=settings,
        travel_m=await day_detours(session, request, found),
    )
    return reachable_candidates(request, ordered, now=now, settings=settings)


async def place_batch(
    sessionmaker: async_sessionmaker[AsyncSession],
    visits: list[WaitingVisit],
    *,
    emit: Emit,
    settings: MatchingSettings,
    solver: SolverPool,
    now: datetime | None = None,
) -> Counter[DispatchOutcome]:
    """Solve the batch and place each visit. Returns the count of each outcome."""
    graph, edges = build_batch_graph(visits, settings)
    solved = await solver.solve(graph)
    choices = {
        int(graph.visit_index[edge]): edges[edge]
        for edge in solved.chosen.nonzero()[0].tolist()
    }
    batch = BatchRanking(
        size=len(visits),
        solver=solved.solver.value,
        fallback=None if solved.fallback is None else solved.fallback.value,
    )
    log.info(
        "batch.solved",
        visits=len(visits),
        edges=len(edges),
        chosen=len(choices),
        solver=batch.solver,
        fallback=batch.fallback,
        seconds=round(solved.seconds, 3),
    )
    outcomes: Counter[DispatchOutcome] = Counter()
    for number, visit in enumerate(visits):
        chosen = choices.get(number)
        if chosen is None and visit.candidates:
            # Queued: its candidates' capacity went to other visits of the
            # batch. It waits for the next pass, where it comes first if its
            # deadline is the earliest.
            outcomes[DispatchOutcome.PENDING] += 1
            continue
        outcomes[
            await _place_one(
                sessionmaker,
                visit,
                chosen,
                batch,
                emit=emit,
                settings=settings,
                now=now,
            )
        ] += 1
    return outcomes


def build_batch_graph(
    visits: list[WaitingVisit], settings: MatchingSettings
) -> tuple[CandidateGraph, list[OrderedCandidate]]:
    """Build the flow graph of the batch, with the candidate of each edge."""
    agent_numbers: dict[uuid.UUID, int] = {}
    capacity: list[int] = []
    visit_index: list[int] = []
    agent_index: list[int] = []
    edges: list[OrderedCandidate] = []
    for number, visit in enumerate(visits):
        for candidate in visit.candidates:
            row = candidate.row
            agent = agent_numbers.setdefault(row.agent_id, len(capacity))
            if agent == len(capacity):
                capacity.append(int(row.free_capacity))
            # Each visit's candidates were read by a query of their own, so
            # an agent's free capacity may differ between them. The lowest is
            # the safe one.
            capacity[agent] = min(capacity[agent], int(row.free_capacity))
            visit_index.append(number)
            agent_index.append(agent)
            edges.append(candidate)
    weights, _ = ranking_from_settings(settings)
    graph = graph_from_edges(
        visit_index=visit_index,
        agent_index=agent_index,
        distance_m=[float(edge.row.distance_m) for edge in edges],
        score=[edge.ranking.score for edge in edges],
        capacity=capacity,
        visit_count=len(visits),
        best_score=weights.total,
    )
    return graph, edges


async def _place_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    visit: WaitingVisit,
    chosen: OrderedCandidate | None,
    batch: BatchRanking,
    *,
    emit: Emit,
    settings: MatchingSettings,
    now: datetime | None,
) -> DispatchOutcome:
    visit_id = visit.request.visit_id
    try:
        async with sessionmaker() as session, session.begin():
            return await _place_locked(
                session,
                visit_id,
                chosen,
                batch,
                emit=emit,
                settings=settings,
                now=now or datetime.now(UTC),
            )
    except Exception:
        # One failing request must not stop the batch. It stays pending, and
        # the next pass tries it again.
        log.exception("batch.place_failed", visit_id=str(visit_id))
        return DispatchOutcome.FAILED


async def _place_locked(
    session: AsyncSession,
    visit_id: uuid.UUID,
    chosen: OrderedCandidate | None,
    batch: BatchRanking,
    *,
    emit: Emit,
    settings: MatchingSettings,
    now: datetime,
) -> DispatchOutcome:
    """Place one visit under its request's lock, or end it, or leave it pending.

    `chosen` is the solver's agent, or None when the visit had no candidate.
    """
    # SKIP LOCKED: a request that an accept, decline or withdrawal has locked
    # is changing. One no longer pending was placed or ended since the read.
    request = await repository.lock_pending_request(session, visit_id)
    if request is None:
        return DispatchOutcome.SKIPPED
    reason = unmatched_reason(request, now)
    if reason is not None:
        return await unmatch(session, request, reason=reason, emit=emit, now=now)
    if chosen is None:
        rules = candidate_rules(request, now=now, settings=settings)
        if await repository.covering_agent_exists(
            session, visit_id, now=now, reach_m=rules.reach_m
        ):
            return DispatchOutcome.PENDING
        return await unmatch(
            session, request, reason="out_of_coverage", emit=emit, now=now
        )
    if not await _still_candidate(session, request, chosen, settings, now):
        log.info(
            "batch.candidate_gone",
            visit_id=str(visit_id),
            agent_id=str(chosen.row.agent_id),
        )
        return DispatchOutcome.PENDING
    ranking = chosen.ranking.model_copy(update={"batch": batch})
    return await place(
        session,
        request,
        dataclasses.replace(chosen, ranking=ranking),
        emit=emit,
        settings=settings,
        now=now,
    )


async def _still_candidate(
    session: AsyncSession,
    request: Row[Any],
    chosen: OrderedCandidate,
    settings: MatchingSettings,
    now: datetime,
) -> bool:
    """Tell whether the chosen agent still passes every candidate rule.

    The solver worked on a snapshot. Meanwhile the agent may have gone
    offline, filled up, or been offered this visit by another instance of
    the service, which the rule against offering a visit twice must catch.
    """
    found = await repository.find_candidates(
        session,
        request.visit_id,
        rules=candidate_rules(request, now=now, settings=settings),
        limit=settings.max_candidates,
    )
    if all(row.agent_id != chosen.row.agent_id for row in found):
        return False
    return bool(reachable_candidates(request, [chosen], now=now, settings=settings))
