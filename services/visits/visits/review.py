"""A director's review of a completed visit, and the agent's one appeal.

completed -> rejected (director, inside the review window)
rejected: appeal once (agent, inside the appeal window) -> appealed
appealed -> upheld (stays rejected) or overturned (completed again)

Each step is one conditional UPDATE in one transaction with its event, so
two concurrent calls cannot both succeed: the second finds the row moved
and gets a 409.
"""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import ConflictError, InvalidStateError, NotFoundError
from shared.events.payloads import (
    AppealOutcome,
    Money,
    VisitAppealed,
    VisitAppealResolved,
    VisitRejected,
)
from shared.runtime import ServiceRuntime
from visits import earnings, proof_repository
from visits.models import Review
from visits.schemas import ReviewOut, ReviewStatus
from visits.service import visit_not_found, visits_settings
from visits.states import VisitState

log = structlog.get_logger(__name__)


def tenant_visit_not_found(visit_id: UUID) -> NotFoundError:
    return NotFoundError(f"visit {visit_id} not found for this tenant")


async def reject_visit(
    session: AsyncSession,
    runtime: ServiceRuntime,
    *,
    tenant_id: UUID,
    visit_id: UUID,
    reason: str,
) -> ReviewOut:
    """Reject a completed visit inside the review window and ask for another."""
    window = timedelta(hours=visits_settings(runtime).review_window_hours)
    now = datetime.now(UTC)
    async with session.begin():
        if await proof_repository.review_of(session, visit_id) is not None:
            await _raise_if_missing(session, tenant_id, visit_id)
            raise ConflictError(
                f"visit {visit_id} was already reviewed; a visit is rejected once"
            )
        visit = await proof_repository.reject(
            session,
            visit_id,
            tenant_id=tenant_id,
            completed_after=now - window,
            at=now,
        )
        if visit is None:
            await _raise_not_rejectable(session, tenant_id, visit_id, window)
        await proof_repository.insert_review(
            session,
            visit_id=visit_id,
            tenant_id=tenant_id,
            status=ReviewStatus.REJECTED.value,
            reason=reason,
            rejected_at=now,
        )
        await runtime.emit(
            session,
            VisitRejected(
                tenant_id=tenant_id,
                visit_id=visit_id,
                campaign_id=visit.campaign_id,
                account_id=visit.account_id,
                agent_id=visit.agent_id,
                attempt=visit.attempt,
                reason=reason,
                fee=Money(amount=visit.fee_amount, currency=visit.fee_currency),
                rejected_at=now,
            ),
        )
        await earnings.reverse_if_earned(
            session, runtime.emit, visit_id=visit_id, at=now
        )
        review = await proof_repository.review_of(session, visit_id)
    log.info("visits.rejected", visit_id=str(visit_id), tenant_id=str(tenant_id))
    return _review_out(review)


async def _raise_if_missing(
    session: AsyncSession, tenant_id: UUID, visit_id: UUID
) -> None:
    if await proof_repository.tenant_visit_state(session, tenant_id, visit_id) is None:
        raise tenant_visit_not_found(visit_id)


async def _raise_not_rejectable(
    session: AsyncSession, tenant_id: UUID, visit_id: UUID, window: timedelta
) -> None:
    row = await proof_repository.tenant_visit_state(session, tenant_id, visit_id)
    if row is None:
        raise tenant_visit_not_found(visit_id)
    if row.state == VisitState.COMPLETED and row.completed_at is not None:
        closed = row.completed_at + window
        raise InvalidStateError(
            f"visit {visit_id} was completed at {row.completed_at.isoformat()}; "
            f"its review window closed at {closed.isoformat()}",
            current_state=row.state,
            review_window_closed_at=closed.isoformat(),
        )
    raise InvalidStateError(
        f"visit {visit_id} is {row.state}; only a completed visit can be rejected",
        current_state=row.state,
    )


async def agent_review(
    session: AsyncSession, *, agent_id: UUID, visit_id: UUID
) -> ReviewOut:
    """Return the review of one of the agent's visits, so the agent can appeal it."""
    async with session.begin():
        visit = await proof_repository.agent_visit_state(session, agent_id, visit_id)
        if visit is None:
            raise visit_not_found(visit_id)
        review = await proof_repository.review_of(session, visit_id)
    if review is None:
        raise NotFoundError(f"visit {visit_id} has not been reviewed")
    return _review_out(review)


async def appeal_rejection(
    session: AsyncSession,
    runtime: ServiceRuntime,
    *,
    agent_id: UUID,
    visit_id: UUID,
    text: str,
) -> ReviewOut:
    """Record the agent's one appeal of a rejection, inside the appeal window."""
    window = timedelta(hours=visits_settings(runtime).appeal_window_hours)
    now = datetime.now(UTC)
    async with session.begin():
        visit = await proof_repository.agent_visit_state(session, agent_id, visit_id)
        if visit is None:
            raise visit_not_found(visit_id)
        review = await proof_repository.review_of(session, visit_id, for_update=True)
        if review is None or review.status != ReviewStatus.REJECTED:
            raise _appeal_conflict(visit_id, visit.state, review)
        if now > review.rejected_at + window:
            closed = review.rejected_at + window
            raise InvalidStateError(
                f"visit {visit_id} was rejected at {review.rejected_at.isoformat()}; "
                f"its appeal window closed at {closed.isoformat()}",
                current_state=visit.state,
                review_status=review.status,
            )
        await proof_repository.update_review(
            session,
            visit_id,
            from_status=ReviewStatus.REJECTED.value,
            status=ReviewStatus.APPEALED.value,
            appeal_text=text,
            appealed_at=now,
        )
        await runtime.emit(
            session,
            VisitAppealed(
                tenant_id=visit.tenant_id,
                visit_id=visit_id,
                campaign_id=visit.campaign_id,
                account_id=visit.account_id,
                agent_id=agent_id,
                text=text,
                appealed_at=now,
            ),
        )
        review = await proof_repository.review_of(session, visit_id)
    log.info("visits.appealed", visit_id=str(visit_id), agent_id=str(agent_id))
    return _review_out(review)


def _appeal_conflict(
    visit_id: UUID, state: str, review: Review | None
) -> InvalidStateError:
    if review is None:
        return InvalidStateError(
            f"visit {visit_id} is {state} and was not rejected; there is "
            "nothing to appeal",
            current_state=state,
        )
    return InvalidStateError(
        f"the rejection of visit {visit_id} is already {review.status}; a "
        "rejection is appealed once",
        current_state=state,
        review_status=review.status,
    )


async def resolve_appeal(
    session: AsyncSession,
    runtime: ServiceRuntime,
    *,
    tenant_id: UUID,
    visit_id: UUID,
    outcome: AppealOutcome,
    note: str | None,
) -> ReviewOut:
    """Uphold the rejection, or overturn it and make the visit completed again."""
    now = datetime.now(UTC)
    async with session.begin():
        state = await proof_repository.tenant_visit_state(session, tenant_id, visit_id)
        if state is None:
            raise tenant_visit_not_found(visit_id)
        review = await proof_repository.review_of(session, visit_id, for_update=True)
        if review is None or review.status != ReviewStatus.APPEALED:
            status = review.status if review is not None else "none"
            raise InvalidStateError(
                f"visit {visit_id} has no appeal waiting (review: {status}); "
                "only an appealed rejection can be resolved",
                current_state=state.state,
                review_status=status,
            )
        if outcome == AppealOutcome.OVERTURNED:
            # The locked review is appealed, so the visit is still rejected.
            await proof_repository.restore_completed(
                session, visit_id, tenant_id=tenant_id
            )
        visit = await proof_repository.visit_fee(session, visit_id)
        await proof_repository.update_review(
            session,
            visit_id,
            from_status=ReviewStatus.APPEALED.value,
            status=outcome.value,
            resolution_note=note,
            resolved_at=now,
        )
        await runtime.emit(
            session,
            VisitAppealResolved(
                tenant_id=tenant_id,
                visit_id=visit_id,
                campaign_id=visit.campaign_id,
                account_id=visit.account_id,
                agent_id=visit.agent_id,
                outcome=outcome,
                note=note,
                fee=Money(amount=visit.fee_amount, currency=visit.fee_currency),
                resolved_at=now,
            ),
        )
        if outcome == AppealOutcome.OVERTURNED:
            await earnings.earn_on_overturn(
                session, runtime.emit, visit_id=visit_id, at=now
            )
        review = await proof_repository.review_of(session, visit_id)
    log.info("visits.appeal_resolved", visit_id=str(visit_id), outcome=outcome.value)
    return _review_out(review)


def _review_out(review: Review | None) -> ReviewOut:
    assert review is not None, "the review was written in this transaction"
    return ReviewOut.model_validate(review, from_attributes=True)
