"""Visit outcomes from visits.v1: the account's last visit, and revisits."""

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.attempts import repository
from ingest.models import Revisit
from ingest.policies.repository import get_policy
from shared.events import Envelope
from shared.events.payloads import (
    AppealOutcome,
    PersonMet,
    VisitAppealResolved,
    VisitCompleted,
    VisitRejected,
)

log = structlog.get_logger(__name__)

# The outcome that calls for another attempt: nobody answered the door.
REVISIT_OUTCOME = PersonMet.NOBODY


async def on_visit_completed(
    session: AsyncSession, envelope: Envelope, payload: VisitCompleted
) -> None:
    """Record the outcome and, when nobody was met, schedule the next attempt.

    The revisit is a row in `revisits` due after the tenant's delay; the
    scheduler loop requests it then. Visits that no campaign of this
    service requested are ignored.
    """
    visit = await repository.complete_visit(
        session,
        payload.visit_id,
        tenant_id=payload.tenant_id,
        person_met=payload.person_met.value,
        completed_at=payload.completed_at,
    )
    if visit is None:
        log.info("outcome.unknown_visit", visit_id=str(payload.visit_id))
        return
    await repository.record_last_visit(
        session,
        visit.account_id,
        person_met=payload.person_met.value,
        completed_at=payload.completed_at,
    )
    if payload.person_met != REVISIT_OUTCOME:
        return
    status = await repository.campaign_status(session, visit.campaign_id)
    if status not in ("launched", "paused"):
        log.info("revisit.campaign_closed", visit_id=str(payload.visit_id))
        return
    policy = await get_policy(session, payload.tenant_id)
    done = await repository.completed_attempts(
        session, campaign_id=visit.campaign_id, account_id=visit.account_id
    )
    if done >= policy.max_attempts:
        log.info(
            "revisit.max_attempts_reached",
            visit_id=str(payload.visit_id),
            attempts=done,
        )
        return
    due_at = payload.completed_at + timedelta(seconds=policy.revisit_delay_seconds)
    scheduled = await repository.schedule_revisit(
        session,
        tenant_id=payload.tenant_id,
        campaign_id=visit.campaign_id,
        account_id=visit.account_id,
        previous_visit_id=payload.visit_id,
        attempt=visit.attempt + 1,
        due_at=due_at,
    )
    log.info(
        "revisit.scheduled" if scheduled else "revisit.already_scheduled",
        visit_id=str(payload.visit_id),
        attempt=visit.attempt + 1,
        due_at=due_at.isoformat(),
    )


async def on_visit_rejected(
    session: AsyncSession, envelope: Envelope, payload: VisitRejected
) -> None:
    """Schedule a new attempt, due now, for a visit a director rejected.

    The rejected visit does not count as an attempt, so the tenant's
    `max_attempts` does not stop it. The weekly visit limit still applies
    when the scheduler requests it. When the visit already scheduled a
    revisit because nobody was home, that revisit serves for both.
    """
    status = await repository.campaign_status(session, payload.campaign_id)
    if status not in ("launched", "paused"):
        log.info("revisit.campaign_closed", visit_id=str(payload.visit_id))
        return
    scheduled = await repository.schedule_revisit(
        session,
        tenant_id=payload.tenant_id,
        campaign_id=payload.campaign_id,
        account_id=payload.account_id,
        previous_visit_id=payload.visit_id,
        attempt=payload.attempt + 1,
        due_at=payload.rejected_at,
    )
    log.info(
        "revisit.scheduled_after_rejection"
        if scheduled
        else "revisit.already_scheduled",
        visit_id=str(payload.visit_id),
        attempt=payload.attempt + 1,
    )


async def on_appeal_resolved(
    session: AsyncSession, envelope: Envelope, payload: VisitAppealResolved
) -> None:
    """Drop the new attempt a rejection scheduled once the rejection is overturned.

    A visit that found nobody scheduled its revisit before the rejection,
    and that revisit is still owed, so it stays.
    """
    if payload.outcome != AppealOutcome.OVERTURNED:
        return
    outcome = await repository.person_met_of(session, payload.visit_id)
    if outcome == REVISIT_OUTCOME.value:
        log.info("revisit.kept_after_appeal", visit_id=str(payload.visit_id))
        return
    cancelled = await repository.cancel_scheduled_revisits(
        session,
        Revisit.previous_visit_id == payload.visit_id,
        reason="rejection overturned on appeal",
        now=payload.resolved_at,
    )
    log.info(
        "revisit.cancelled_after_appeal",
        visit_id=str(payload.visit_id),
        cancelled=cancelled,
    )
