"""The matching service: agents, offers and the assignment of visits."""

import asyncio

import structlog
from fastapi import FastAPI

from matching import router
from matching.consumers import build_consumers
from matching.dispatch import DispatchOutcome, retry_pending
from matching.models import common
from matching.settings import MatchingSettings
from shared.runtime import ServiceRuntime, create_service_app

log = structlog.get_logger(__name__)

# Outcomes that wrote an event to the outbox, which the relay should send now.
OUTCOMES_WITH_EVENTS = (
    DispatchOutcome.ASSIGNED,
    DispatchOutcome.OUT_OF_COVERAGE,
    DispatchOutcome.EXPIRED,
)


def create_app(settings: MatchingSettings | None = None) -> FastAPI:
    settings = settings or MatchingSettings()
    return create_service_app(
        name="matching",
        title="Campo matching API",
        version="0.1.0",
        description=(
            "Field agents, their assignments, and the assignment of each "
            "requested visit to the nearest covering agent with capacity."
        ),
        settings=settings,
        tables=common,
        routers=[router.router],
        consumers=build_consumers,
        background=[retry_pending_requests],
    )


async def retry_pending_requests(runtime: ServiceRuntime) -> None:
    """Dispatch pending requests again every MATCHING_PENDING_RETRY_SECONDS."""
    settings = runtime.settings
    assert isinstance(settings, MatchingSettings)
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
