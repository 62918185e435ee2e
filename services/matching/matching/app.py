"""The matching service: agents, offers and the assignment of visits."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from matching import router
from matching.batching import batch_pending
from matching.consumers import build_consumers
from matching.dispatch import DispatchOutcome, retry_pending
from matching.expiry import expire_due
from matching.models import common
from matching.release import release_lapsed
from matching.settings import MatchingSettings, matching_settings
from matching.solver_pool import SolverPool
from shared.runtime import ServiceRuntime, create_service_app

log = structlog.get_logger(__name__)

# Outcomes that wrote an event to the outbox, which the relay should send now.
OUTCOMES_WITH_EVENTS = (
    DispatchOutcome.ASSIGNED,
    DispatchOutcome.OFFERED,
    DispatchOutcome.OUT_OF_COVERAGE,
    DispatchOutcome.EXPIRED,
)

# The key of the batch solver's process pool in `ServiceRuntime.state`.
SOLVER_POOL = "solver_pool"


def create_app(settings: MatchingSettings | None = None) -> FastAPI:
    settings = settings or MatchingSettings()
    return create_service_app(
        name="matching",
        title="Campo matching API",
        version="0.1.0",
        description=(
            "Field agents, the offers they accept or decline, and their "
            "assignments. Each requested visit goes to the covering agents "
            "with capacity, nearest first, in its campaign's dispatch mode."
        ),
        settings=settings,
        tables=common,
        routers=[router.router],
        consumers=build_consumers,
        background=[
            retry_pending_requests,
            expire_offers,
            batch_requests,
            release_lapsed_assignments,
        ],
        resources=[solver_pool],
    )


@asynccontextmanager
async def solver_pool(runtime: ServiceRuntime) -> AsyncIterator[None]:
    """Start the batch solver's worker before any task runs, when batching is on."""
    settings = matching_settings(runtime)
    if settings.batch_interval_seconds == 0:
        yield
        return
    pool = SolverPool(time_limit_seconds=settings.batch_time_limit_seconds)
    await pool.start()
    runtime.state[SOLVER_POOL] = pool
    try:
        yield
    finally:
        pool.close()


async def batch_requests(runtime: ServiceRuntime) -> None:
    """Place pending visits in batches every MATCHING_BATCH_INTERVAL_SECONDS.

    Returns at once when batching is off (an interval of 0).
    """
    settings = matching_settings(runtime)
    if settings.batch_interval_seconds == 0:
        return
    pool = runtime.state[SOLVER_POOL]
    while True:
        outcomes = await batch_pending(
            runtime.sessionmaker, emit=runtime.emit, settings=settings, solver=pool
        )
        decided = sum(outcomes[outcome] for outcome in OUTCOMES_WITH_EVENTS)
        if decided:
            runtime.relay.notify()
        if decided or outcomes[DispatchOutcome.FAILED]:
            log.info(
                "dispatch.batch_pass",
                **{str(outcome): count for outcome, count in outcomes.items()},
            )
        await asyncio.sleep(settings.batch_interval_seconds)


async def retry_pending_requests(runtime: ServiceRuntime) -> None:
    """Dispatch pending requests again every MATCHING_PENDING_RETRY_SECONDS."""
    settings = matching_settings(runtime)
    while True:
        outcomes = await retry_pending(
            runtime.sessionmaker, emit=runtime.emit, settings=settings
        )
        decided = sum(outcomes[outcome] for outcome in OUTCOMES_WITH_EVENTS)
        if decided:
            runtime.relay.notify()
        if decided or outcomes[DispatchOutcome.FAILED]:
            log.info(
                "dispatch.retry_pass",
                **{str(outcome): count for outcome, count in outcomes.items()},
            )
        await asyncio.sleep(settings.pending_retry_seconds)


async def expire_offers(runtime: ServiceRuntime) -> None:
    """Expire overdue offers every MATCHING_OFFER_EXPIRY_INTERVAL_SECONDS."""
    settings = matching_settings(runtime)
    while True:
        outcomes = await expire_due(
            runtime.sessionmaker, emit=runtime.emit, settings=settings
        )
        if outcomes:
            runtime.relay.notify()
            log.info(
                "dispatch.expiry_pass",
                **{str(outcome): count for outcome, count in outcomes.items()},
            )
        await asyncio.sleep(settings.offer_expiry_interval_seconds)


async def release_lapsed_assignments(runtime: ServiceRuntime) -> None:
    """Release assignments with no check-in by their deadline, every interval."""
    settings = matching_settings(runtime)
    while True:
        outcomes = await release_lapsed(
            runtime.sessionmaker, emit=runtime.emit, settings=settings
        )
        if outcomes:
            runtime.relay.notify()
            log.info(
                "assignment.lapse_pass",
                **{str(outcome): count for outcome, count in outcomes.items()},
            )
        await asyncio.sleep(settings.check_in_lapse_interval_seconds)
