"""The visits service: the visit state machine, check-ins and results."""

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from fastapi import FastAPI

from shared.runtime import ServiceRuntime, create_service_app
from visits.consumers import build_consumers
from visits.earnings import earn_closed_windows
from visits.earnings_router import earnings_router
from visits.models import common
from visits.promises import break_overdue_promises
from visits.proof_router import build_proof_routers, photo_body_limit
from visits.router import agent_router, tenant_router
from visits.rules_router import rules_router
from visits.settings import VisitsSettings

log = structlog.get_logger(__name__)


def create_app(settings: VisitsSettings | None = None) -> FastAPI:
    settings = settings or VisitsSettings()
    return create_service_app(
        name="visits",
        title="Campo visits API",
        version="0.1.0",
        description=(
            "Agents list their assigned visits, check in at the address and "
            "send results; tenants follow every visit's state."
        ),
        settings=settings,
        tables=common,
        routers=[
            agent_router,
            tenant_router,
            rules_router,
            earnings_router,
            *build_proof_routers(settings),
        ],
        consumers=build_consumers,
        background=[break_promises, earn_fees],
        body_limits=photo_body_limit(settings),
    )


async def break_promises(runtime: ServiceRuntime) -> None:
    """Mark overdue promises broken, every interval."""
    settings = runtime.settings
    assert isinstance(settings, VisitsSettings)
    while True:
        broken = await break_overdue_promises(
            runtime.sessionmaker, emit=runtime.emit, now=datetime.now(UTC)
        )
        if broken:
            runtime.relay.notify()
            log.info("promises.broken_pass", broken=broken)
        await asyncio.sleep(settings.promise_check_interval_seconds)


async def earn_fees(runtime: ServiceRuntime) -> None:
    """Earn the fees whose review window closed, every interval."""
    settings = runtime.settings
    assert isinstance(settings, VisitsSettings)
    window = timedelta(hours=settings.review_window_hours)
    while True:
        earned = await earn_closed_windows(
            runtime.sessionmaker,
            emit=runtime.emit,
            now=datetime.now(UTC),
            review_window=window,
        )
        if earned:
            runtime.relay.notify()
            log.info("earnings.earned_pass", earned=earned)
        await asyncio.sleep(settings.earnings_check_interval_seconds)
