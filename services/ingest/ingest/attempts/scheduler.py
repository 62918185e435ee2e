"""The loop that requests revisits once they are due.

Due revisits live in the `revisits` table, so a restart loses none. Each
pass locks a batch with SKIP LOCKED, so two ingest instances never request
the same revisit.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.attempts import repository
from ingest.attempts.service import request_visits
from ingest.policies.repository import get_policy
from ingest.settings import IngestSettings
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)

WEEK = timedelta(days=7)


async def request_due_revisits(runtime: ServiceRuntime) -> None:
    """Request due revisits every INGEST_REVISIT_POLL_SECONDS."""
    settings = runtime.settings
    assert isinstance(settings, IngestSettings)
    while True:
        try:
            requested = await request_due_batch(runtime, settings.revisit_batch_size)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("revisit.pass_failed")
            requested = 0
        if requested:
            runtime.relay.notify()
        await asyncio.sleep(settings.revisit_poll_seconds)


async def request_due_batch(runtime: ServiceRuntime, limit: int) -> int:
    """Request, skip or postpone each due revisit; return how many were requested."""
    now = datetime.now(UTC)
    requested = 0
    async with runtime.sessionmaker() as session, session.begin():
        for row in await repository.lock_due_revisits(session, now=now, limit=limit):
            requested += await _decide(runtime, session, row, now)
    return requested


async def _decide(
    runtime: ServiceRuntime, session: AsyncSession, row: Any, now: datetime
) -> int:
    revisit, campaign = row.Revisit, row.Campaign
    skip_reason = _skip_reason(row, now)
    if skip_reason is not None:
        await repository.finish_revisit(
            session,
            revisit.revisit_id,
            state="skipped",
            skip_reason=skip_reason,
            decided_at=now,
        )
        log.info(
            "revisit.skipped", revisit_id=str(revisit.revisit_id), reason=skip_reason
        )
        return 0
    policy = await get_policy(session, revisit.tenant_id)
    recent = await repository.visits_since(session, revisit.account_id, now - WEEK)
    if len(recent) >= policy.max_visits_per_week:
        # The oldest visit in the window leaves it first; try again then.
        later = recent[len(recent) - policy.max_visits_per_week] + WEEK
        await repository.finish_revisit(session, revisit.revisit_id, due_at=later)
        log.info(
            "revisit.postponed_weekly_limit",
            revisit_id=str(revisit.revisit_id),
            due_at=later.isoformat(),
        )
        return 0
    [visit_id] = await request_visits(
        runtime, session, campaign, [(row, revisit.attempt)], now=now
    )
    await repository.finish_revisit(
        session,
        revisit.revisit_id,
        state="requested",
        visit_id=visit_id,
        decided_at=now,
    )
    log.info(
        "revisit.requested",
        revisit_id=str(revisit.revisit_id),
        visit_id=str(visit_id),
        attempt=revisit.attempt,
    )
    return 1


def _skip_reason(row: Any, now: datetime) -> str | None:
    if row.exclusion is not None:
        return f"account {row.exclusion.replace('_', '-')}"
    if row.Campaign.deadline <= now:
        return "campaign deadline passed"
    if row.lat is None:
        return "account has no coordinates"
    return None
