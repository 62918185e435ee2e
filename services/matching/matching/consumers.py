"""Matching's event handlers and the consumers that run them."""

from sqlalchemy.ext.asyncio import AsyncSession

from matching import release, service
from matching.models import common
from matching.settings import matching_settings
from shared.auth import tenant_directory_handlers
from shared.consumer import EventConsumer
from shared.events import Envelope, topics
from shared.events.payloads import (
    VisitCheckedIn,
    VisitCompleted,
    VisitRequested,
    VisitWithdrawn,
)
from shared.runtime import ServiceRuntime


def build_consumers(runtime: ServiceRuntime) -> list[EventConsumer]:
    settings = matching_settings(runtime)

    async def on_visit_requested(
        session: AsyncSession, envelope: Envelope, payload: VisitRequested
    ) -> None:
        await service.accept_visit_request(
            session, payload, emit=runtime.emit, settings=settings
        )

    async def on_visit_withdrawn(
        session: AsyncSession, envelope: Envelope, payload: VisitWithdrawn
    ) -> None:
        await service.withdraw_visit(session, payload, emit=runtime.emit)

    async def on_visit_checked_in(
        session: AsyncSession, envelope: Envelope, payload: VisitCheckedIn
    ) -> None:
        await release.record_check_in(session, payload)

    async def on_visit_completed(
        session: AsyncSession, envelope: Envelope, payload: VisitCompleted
    ) -> None:
        await service.complete_assignment(session, payload)

    # visits also publishes campo.visit.out_of_coverage, but only after this
    # service's own VisitUnmatched, so it carries nothing new here.
    return [
        runtime.consumer(
            group="dispatch",
            streams=[topics.VISIT_REQUESTS],
            handlers={
                VisitRequested: on_visit_requested,
                VisitWithdrawn: on_visit_withdrawn,
            },
        ),
        runtime.consumer(
            group="visits",
            streams=[topics.VISITS],
            handlers={
                VisitCheckedIn: on_visit_checked_in,
                VisitCompleted: on_visit_completed,
            },
        ),
        runtime.consumer(
            group="tenants",
            streams=[topics.TENANTS],
            handlers=tenant_directory_handlers(common),
        ),
    ]
