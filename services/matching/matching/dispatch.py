"""Dispatch: find the agent of a pending visit request, in the campaign's mode.

- `assign`: the best candidate with capacity gets the visit at once; the
  offer is recorded as accepted and the assignment starts active.
- `offer`: the best candidate gets an exclusive offer until `expires_at`.
- `broadcast`: the best `broadcast_size` candidates get an offer each.

Capacity is reserved when an offer is accepted (`matching.offers`), so an
offer only goes to an agent whose snapshot shows free capacity. A request
with no taker when its wait is over ends `out_of_coverage`.
"""

import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching import hours, repository
from matching.candidates import candidate_rules
from matching.models import RequestState
from matching.ordering import OrderedCandidate, day_detours, order_candidates, renumber
from matching.settings import MatchingSettings
from shared.errors import InvalidStateError
from shared.events.payloads import (
    AssignmentCreated,
    DispatchMode,
    OfferMade,
    Payload,
    VisitUnmatched,
)

log = structlog.get_logger(__name__)

Emit = Callable[[AsyncSession, Payload], Awaitable[object]]


class DispatchOutcome(StrEnum):
    ASSIGNED = "assigned"
    OFFERED = "offered"
    PENDING = "pending"
    OUT_OF_COVERAGE = "out_of_coverage"
    EXPIRED = "expired"
    SKIPPED = "skipped"
    FAILED = "failed"


def load_day(now: datetime) -> date:
    """Return the UTC day of `now`.

    Capacity counts per agent's local day (`candidates.local_day`); this is
    the day assignments stored without a `load_day` took their capacity on.
    """
    return now.astimezone(UTC).date()


async def dispatch(
    session: AsyncSession,
    visit_id: uuid.UUID,
    *,
    emit: Emit,
    settings: MatchingSettings,
    now: datetime | None = None,
) -> DispatchOutcome:
    """Assign or offer a pending visit request, end it, or leave it pending.

    Runs in the caller's transaction, and emits the events of the decision.
    """
    now = now or datetime.now(UTC)
    request = await repository.lock_pending_request(session, visit_id)
    if request is None:
        return DispatchOutcome.SKIPPED
    if request.wait_until is not None and request.wait_until <= now:
        await _unmatch(session, request, reason="out_of_coverage", emit=emit, now=now)
        return DispatchOutcome.OUT_OF_COVERAGE
    if request.deadline <= now:
        await _unmatch(session, request, reason="expired", emit=emit, now=now)
        return DispatchOutcome.EXPIRED

    if request.marketplace_from is not None and request.marketplace_from <= now:
        # The staff-only time is over; clearing it keeps the expiry pass from
        # finding the request due again.
        await repository.open_marketplace(session, visit_id)
    mode = DispatchMode(request.dispatch_mode)
    if left_to_batch(mode, settings):
        # The batch pass places it together with the other waiting visits,
        # within MATCHING_BATCH_INTERVAL_SECONDS.
        return DispatchOutcome.PENDING
    offer_count = request.broadcast_size if mode == DispatchMode.BROADCAST else 1
    rules = candidate_rules(request, now=now, settings=settings)
    found = await repository.find_candidates(
        session,
        visit_id,
        rules=rules,
        limit=max(settings.max_candidates, offer_count),
    )
    candidates = order_candidates(
        request,
        found,
        now=now,
        settings=settings,
        travel_m=await day_detours(session, request, found),
    )
    if candidates and settings.visiting_hours:
        reachable = _within_visiting_hours(request, candidates, mode, now)
        if not reachable:
            # Agents are there, but none could arrive at a legal hour. The
            # visit waits, and the pending pass tries it again when the
            # window opens.
            log.info(
                "dispatch.outside_visiting_hours",
                visit_id=str(visit_id),
                time_zone=request.time_zone,
                candidates=len(candidates),
            )
            return DispatchOutcome.PENDING
        candidates = renumber(
            reachable, dropped_by_hours=len(candidates) - len(reachable)
        )
    if candidates and mode == DispatchMode.ASSIGN:
        if await _assign_first_with_capacity(
            session, request, candidates, emit, now, settings=settings
        ):
            return DispatchOutcome.ASSIGNED
    elif candidates and await _offer(
        session, request, candidates[:offer_count], mode, emit=emit, now=now
    ):
        return DispatchOutcome.OFFERED

    if await repository.covering_agent_exists(
        session, visit_id, now=now, reach_m=rules.reach_m
    ):
        log.info(
            "dispatch.pending_no_capacity",
            visit_id=str(visit_id),
            candidates_tried=len(candidates),
            staff_only=rules.staff_only,
        )
        return DispatchOutcome.PENDING
    await _unmatch(session, request, reason="out_of_coverage", emit=emit, now=now)
    return DispatchOutcome.OUT_OF_COVERAGE


def left_to_batch(mode: DispatchMode, settings: MatchingSettings) -> bool:
    """Tell whether the batch pass, not `dispatch`, places requests of `mode`.

    Broadcast requests are always dispatched one at a time, because each
    goes to several agents at once.
    """
    return settings.batch_interval_seconds > 0 and mode != DispatchMode.BROADCAST


def unmatched_reason(request: Row[Any], now: datetime) -> str | None:
    """Return why the request must end unmatched now, as `dispatch` decides.

    `out_of_coverage` when its wait is over, `expired` at its deadline, and
    None while it may still wait.
    """
    if request.wait_until is not None and request.wait_until <= now:
        return "out_of_coverage"
    if request.deadline <= now:
        return "expired"
    return None


async def unmatch(
    session: AsyncSession,
    request: Row[Any],
    *,
    reason: str,
    emit: Emit,
    now: datetime,
) -> DispatchOutcome:
    """End a locked pending request with no agent, for `reason`, and emit it."""
    await _unmatch(session, request, reason=reason, emit=emit, now=now)
    return DispatchOutcome(reason)


def reachable_candidates(
    request: Row[Any],
    candidates: list[OrderedCandidate],
    *,
    now: datetime,
    settings: MatchingSettings,
) -> list[OrderedCandidate]:
    """Keep the candidates who could arrive at a legal hour, as `dispatch` does."""
    if not settings.visiting_hours:
        return candidates
    mode = DispatchMode(request.dispatch_mode)
    return _within_visiting_hours(request, candidates, mode, now)


async def place(
    session: AsyncSession,
    request: Row[Any],
    chosen: OrderedCandidate,
    *,
    emit: Emit,
    settings: MatchingSettings,
    now: datetime,
) -> DispatchOutcome:
    """Assign or offer a locked pending request to one chosen candidate.

    In assign mode the agent's capacity is reserved first, and a full agent
    leaves the request pending. In offer mode the agent gets an exclusive
    offer. An agent suspended since it was chosen also leaves the request
    pending.
    """
    mode = DispatchMode(request.dispatch_mode)
    if mode == DispatchMode.ASSIGN:
        if await _assign_first_with_capacity(
            session, request, [chosen], emit, now, settings=settings
        ):
            return DispatchOutcome.ASSIGNED
        return DispatchOutcome.PENDING
    if await _offer(session, request, [chosen], mode, emit=emit, now=now):
        return DispatchOutcome.OFFERED
    return DispatchOutcome.PENDING


def _offer_expiry(request: Row[Any], now: datetime) -> datetime:
    """Return when offers made now expire.

    That is after the offer timeout, or at the end of the wait or at the
    deadline when either comes first.
    """
    timeout = timedelta(seconds=request.offer_timeout_seconds)
    return min(
        limit
        for limit in (now + timeout, request.wait_until, request.deadline)
        if limit is not None
    )


def _within_visiting_hours(
    request: Row[Any],
    candidates: list[OrderedCandidate],
    mode: DispatchMode,
    now: datetime,
) -> list[OrderedCandidate]:
    """Keep the candidates who could arrive at a legal hour, in their order.

    An agent may set off as soon as the offer is made or as late as its
    expiry. Assign mode has no acceptance step, so only setting off now counts.
    """
    expires_at = now if mode == DispatchMode.ASSIGN else _offer_expiry(request, now)
    zones = hours.address_zones(request.time_zone)
    stricter = hours.campaign_window(request.visiting_start, request.visiting_end)
    days = hours.campaign_days(request.visiting_days)
    return [
        candidate
        for candidate in candidates
        if hours.may_offer(
            now=now,
            expires_at=expires_at,
            travel=candidate.travel,
            time_zones=zones,
            stricter=stricter,
            allowed_days=days,
        )
    ]


async def _assign_first_with_capacity(
    session: AsyncSession,
    request: Row[Any],
    candidates: list[OrderedCandidate],
    emit: Emit,
    now: datetime,
    *,
    settings: MatchingSettings,
) -> bool:
    for ordered in candidates:
        candidate = ordered.row
        if not await repository.lock_placeable_agent(session, candidate.agent_id):
            # Suspended or unverified since the candidates were read, so the
            # next candidate may take the visit.
            continue
        # Two visits may pick the same agent with one slot left, because both
        # read free capacity above. The reservation is one conditional upsert:
        # the second waits on the first's row lock, then reads the new count
        # and gets no row back, so it goes on to the next candidate.
        reserved = await repository.reserve_capacity(
            session,
            candidate.agent_id,
            candidate.load_day,
            capacity=candidate.daily_capacity,
        )
        if reserved:
            await _assign(
                session, request, ordered, emit=emit, now=now, settings=settings
            )
            return True
    return False


async def _assign(
    session: AsyncSession,
    request: Row[Any],
    ordered: OrderedCandidate,
    *,
    emit: Emit,
    now: datetime,
    settings: MatchingSettings,
) -> None:
    await transition(session, request.visit_id, RequestState.ASSIGNED, now)
    candidate = ordered.row
    offer_id = uuid.uuid4()
    distance_m = float(candidate.distance_m)
    await repository.insert_accepted_offer(
        session,
        offer_id=offer_id,
        visit_id=request.visit_id,
        agent_id=candidate.agent_id,
        tenant_id=request.tenant_id,
        distance_m=distance_m,
        ranking=ordered.ranking.model_dump(mode="json"),
        at=now,
    )
    await create_assignment(
        session,
        request,
        offer_id=offer_id,
        agent_id=candidate.agent_id,
        distance_m=distance_m,
        emit=emit,
        now=now,
        load_day=candidate.load_day,
        check_in_within=timedelta(hours=settings.check_in_within_hours),
    )


def check_in_deadline(
    deadline: datetime, assigned_at: datetime, within: timedelta | None
) -> datetime:
    """Return when an assignment made at `assigned_at` must have its check-in.

    That is `within` after the assignment, or the visit's deadline when it
    comes first. An agent who sits on a visit then loses it while another
    agent can still make the visit in time.
    """
    if within is None:
        return deadline
    return min(deadline, assigned_at + within)


async def create_assignment(
    session: AsyncSession,
    request: Row[Any],
    *,
    offer_id: uuid.UUID,
    agent_id: uuid.UUID,
    distance_m: float,
    emit: Emit,
    now: datetime,
    load_day: date | None = None,
    check_in_within: timedelta | None = None,
) -> uuid.UUID:
    """Insert the active assignment of an accepted offer and emit it.

    `load_day` is the day whose capacity the visit took, stored so that a
    release gives it back to that day. The agent must check in within
    `check_in_within` (`check_in_deadline`); None allows until the visit's
    deadline. The partial unique index on active assignments rejects a
    second one for the visit, whatever the caller checked before.
    """
    assignment_id = uuid.uuid4()
    await repository.insert_active_assignment(
        session,
        assignment_id=assignment_id,
        offer_id=offer_id,
        visit_id=request.visit_id,
        agent_id=agent_id,
        tenant_id=request.tenant_id,
        distance_m=distance_m,
        assigned_at=now,
        load_day=load_day,
        check_in_by=check_in_deadline(request.deadline, now, check_in_within),
    )
    await emit(
        session,
        AssignmentCreated(
            tenant_id=request.tenant_id,
            assignment_id=assignment_id,
            offer_id=offer_id,
            visit_id=request.visit_id,
            agent_id=agent_id,
            assigned_at=now,
            distance_m=distance_m,
        ),
    )
    log.info(
        "dispatch.assigned",
        visit_id=str(request.visit_id),
        agent_id=str(agent_id),
        assignment_id=str(assignment_id),
        distance_m=round(distance_m, 1),
    )
    return assignment_id


async def _offer(
    session: AsyncSession,
    request: Row[Any],
    candidates: list[OrderedCandidate],
    mode: DispatchMode,
    *,
    emit: Emit,
    now: datetime,
) -> bool:
    """Make each candidate an open offer of the visit, all with one `expires_at`.

    Candidates suspended since they were read are skipped; False when none
    is left, and the request stays pending.
    """
    candidates = [
        ordered
        for ordered in candidates
        if await repository.lock_placeable_agent(session, ordered.row.agent_id)
    ]
    if not candidates:
        return False
    await transition(session, request.visit_id, RequestState.OFFERED, now)
    expires_at = _offer_expiry(request, now)
    for ordered in candidates:
        candidate = ordered.row
        offer_id = uuid.uuid4()
        distance_m = float(candidate.distance_m)
        await repository.insert_open_offer(
            session,
            offer_id=offer_id,
            visit_id=request.visit_id,
            agent_id=candidate.agent_id,
            tenant_id=request.tenant_id,
            distance_m=distance_m,
            offered_at=now,
            expires_at=expires_at,
            ranking=ordered.ranking.model_dump(mode="json"),
        )
        await emit(
            session,
            OfferMade(
                tenant_id=request.tenant_id,
                offer_id=offer_id,
                visit_id=request.visit_id,
                agent_id=candidate.agent_id,
                mode=mode,
                distance_m=distance_m,
                offered_at=now,
                expires_at=expires_at,
            ),
        )
    log.info(
        "dispatch.offered",
        visit_id=str(request.visit_id),
        mode=mode.value,
        agents=len(candidates),
        expires_at=expires_at.isoformat(),
    )
    return True


async def _unmatch(
    session: AsyncSession,
    request: Row[Any],
    *,
    reason: str,
    emit: Emit,
    now: datetime,
) -> None:
    await transition(session, request.visit_id, RequestState.UNMATCHED, now)
    distance = await repository.nearest_agent_distance(session, request.visit_id)
    await emit(
        session,
        VisitUnmatched(
            tenant_id=request.tenant_id,
            visit_id=request.visit_id,
            reason=reason,
            nearest_agent_distance_m=distance,
            decided_at=now,
        ),
    )
    log.info(
        "dispatch.unmatched",
        visit_id=str(request.visit_id),
        reason=reason,
        nearest_agent_distance_m=None if distance is None else round(distance, 1),
    )


async def transition(
    session: AsyncSession,
    visit_id: uuid.UUID,
    target: RequestState,
    now: datetime,
    *,
    source: RequestState = RequestState.PENDING,
) -> None:
    """Move a request this transaction has locked from `source` to `target`."""
    moved = await repository.transition_request(
        session, visit_id, source=source, target=target, at=now
    )
    if not moved:
        # This transaction locked the row in `source`, so a failed update means
        # another writer ignored the lock. Rolling back is the only safe outcome.
        current = await repository.request_state(session, visit_id)
        raise InvalidStateError(
            f"visit request {visit_id} is {current}, not {source}, so it cannot "
            f"move to {target}",
            current_state=current,
        )


async def retry_pending(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    emit: Emit,
    settings: MatchingSettings,
) -> dict[DispatchOutcome, int]:
    """Dispatch every pending request again, earliest deadline first.

    Each request gets a transaction of its own. Returns the count of each
    outcome.
    """
    outcomes = dict.fromkeys(DispatchOutcome, 0)
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        async with sessionmaker() as session, session.begin():
            batch = await repository.pending_requests(
                session,
                after=after,
                limit=settings.pending_batch_size,
                modes=_retried_modes(settings),
            )
        for row in batch:
            outcome = await _retry_one(sessionmaker, row.visit_id, emit, settings)
            outcomes[outcome] += 1
        if len(batch) < settings.pending_batch_size:
            return outcomes
        after = (batch[-1].deadline, batch[-1].visit_id)


def _retried_modes(settings: MatchingSettings) -> list[DispatchMode]:
    """Return the dispatch modes the pending pass retries; the rest are batched."""
    return [mode for mode in DispatchMode if not left_to_batch(mode, settings)]


async def _retry_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    visit_id: uuid.UUID,
    emit: Emit,
    settings: MatchingSettings,
) -> DispatchOutcome:
    try:
        async with sessionmaker() as session, session.begin():
            return await dispatch(session, visit_id, emit=emit, settings=settings)
    except Exception:
        # One failing request must not stop the others. The next pass tries
        # it again.
        log.exception("dispatch.retry_failed", visit_id=str(visit_id))
        return DispatchOutcome.FAILED


def wait_end(
    start: datetime,
    wait: timedelta,
    *,
    deadline: datetime,
    time_zone: str | None,
    window: hours.Window | None,
    days: Collection[hours.Weekday] | None = None,
    settings: MatchingSettings,
) -> datetime:
    """Return when a wait that starts at `start` is over, at the deadline at latest.

    With visiting hours on, the wait counts only while the address's window
    (narrowed by the campaign's `window`) is open. No agent may take the
    visit at night, so the night uses none of the wait.
    """
    if not settings.visiting_hours:
        return min(start + wait, deadline)
    return hours.open_time_end(
        start,
        wait,
        until=deadline,
        time_zones=hours.address_zones(time_zone),
        stricter=window,
        allowed_days=None if days is None else frozenset(days),
    )
