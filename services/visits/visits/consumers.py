"""Event handlers: visit requests and withdrawals, assignments, payments and the
tenant directory.

Requests and assignments run in separate consumer groups because the two
topics are not ordered with each other. An assignment that arrives before
its request waits with RetryLaterError, and that wait blocks only the
assignments consumer.
"""

from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import tenant_directory_handlers
from shared.consumer import EventConsumer, RetryLaterError
from shared.events import Envelope, topics
from shared.events.payloads import (
    AssignmentCreated,
    AssignmentReleased,
    PaymentReported,
    ReleaseReason,
    VisitAssigned,
    VisitCancelled,
    VisitExpired,
    VisitOutOfCoverage,
    VisitReleased,
    VisitRequested,
    VisitUnmatched,
    VisitWithdrawn,
)
from shared.runtime import ServiceRuntime
from visits import promises, repository
from visits.models import common
from visits.states import VisitState, allowed_sources

log = structlog.get_logger(__name__)

EXPIRED_REASON = "expired"


def build_consumers(runtime: ServiceRuntime) -> list[EventConsumer]:
    assignments = AssignmentHandlers(runtime)
    withdrawals = WithdrawalHandler(runtime)
    payments = PaymentHandler(runtime)
    return [
        runtime.consumer(
            group="requests",
            streams=[topics.VISIT_REQUESTS],
            handlers={
                VisitRequested: on_visit_requested,
                VisitWithdrawn: withdrawals.on_visit_withdrawn,
            },
        ),
        runtime.consumer(
            group="payments",
            streams=[topics.PAYMENTS],
            handlers={PaymentReported: payments.on_payment_reported},
        ),
        runtime.consumer(
            group="assignments",
            streams=[topics.ASSIGNMENTS],
            handlers={
                AssignmentCreated: assignments.on_assignment_created,
                AssignmentReleased: assignments.on_assignment_released,
                VisitUnmatched: assignments.on_visit_unmatched,
            },
        ),
        runtime.consumer(
            group="tenants",
            streams=[topics.TENANTS],
            handlers=tenant_directory_handlers(common),
        ),
    ]


async def on_visit_requested(
    session: AsyncSession, envelope: Envelope, payload: VisitRequested
) -> None:
    inserted = await repository.insert_requested(session, payload)
    log.info(
        "visits.requested" if inserted else "visits.request_already_known",
        visit_id=str(payload.visit_id),
        campaign_id=str(payload.campaign_id),
    )


class WithdrawalHandler:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    async def on_visit_withdrawn(
        self, session: AsyncSession, envelope: Envelope, payload: VisitWithdrawn
    ) -> None:
        """Cancel a visit the agent has not reached; a later state ignores it.

        The withdrawal travels on the request's topic with the same key, so it
        always arrives after the request. The cancellation is announced on
        `visits.v1` with the agent who held the visit, so that reporting and
        webhook subscribers learn of it. The agent's app gets a 404 for it.
        """
        withdrawn = await repository.withdraw(
            session,
            payload.visit_id,
            reason=payload.reason.value,
            at=payload.withdrawn_at,
        )
        if withdrawn is None:
            state = await repository.visit_state(session, payload.visit_id)
            log.info(
                "visits.withdrawal_ignored",
                visit_id=str(payload.visit_id),
                current_state=state,
                reason=payload.reason.value,
            )
            return
        await self._runtime.emit(
            session,
            VisitCancelled(
                tenant_id=withdrawn.tenant_id,
                visit_id=payload.visit_id,
                campaign_id=withdrawn.campaign_id,
                account_id=withdrawn.account_id,
                agent_id=withdrawn.agent_id,
                reason=payload.reason,
                decided_at=payload.withdrawn_at,
            ),
        )
        log.info(
            "visits.withdrawn",
            visit_id=str(payload.visit_id),
            reason=payload.reason.value,
        )


class PaymentHandler:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    async def on_payment_reported(
        self, session: AsyncSession, envelope: Envelope, payload: PaymentReported
    ) -> None:
        """Apply a payment to the account's latest open promise in its currency.

        Each applied payment announces the promise's status and the amount
        paid so far. A payment already applied, even under another event id,
        changes nothing and announces nothing. A payment with no open promise
        is stored for the account, and the next promise recorded for it takes
        the payment when it was made on or after that visit's check-in day.
        """
        ids = {"payment_id": str(payload.payment_id)}
        if await repository.payment_applied(session, payload.payment_id):
            log.info("promises.payment_already_applied", **ids)
            return
        await repository.lock_account_payments(session, payload.account_id)
        promise_id = await repository.apply_payment(
            session,
            payment_id=payload.payment_id,
            tenant_id=payload.tenant_id,
            account_id=payload.account_id,
            amount=payload.amount.amount,
            currency=payload.amount.currency,
            at=payload.reported_at,
            paid_on=payload.paid_on,
        )
        if promise_id is None:
            # Stored for the account: a promise recorded later takes it.
            log.info("promises.payment_kept_for_later", **ids)
            return
        [promise] = await repository.promises_for_events(session, [promise_id])
        await self._runtime.emit(
            session,
            promises.status_event(
                promise, changed_at=payload.reported_at, payment_id=payload.payment_id
            ),
        )
        log.info(
            "promises.payment_applied",
            promise_id=str(promise_id),
            status=promise.status,
            **ids,
        )


async def _skip_or_wait(
    session: AsyncSession,
    visit_id: UUID,
    target: VisitState,
    event_type: str,
    **ids: Any,
) -> None:
    """Wait for a visit not received yet; skip an event its state rules out."""
    state = await repository.visit_state(session, visit_id)
    if state is None:
        raise RetryLaterError(
            f"visit {visit_id} has not been requested yet; {event_type} waits for it"
        )
    if state in allowed_sources(target):
        # The request committed between the UPDATE and this read, so the
        # transition is possible now and a retry applies it.
        raise RetryLaterError(
            f"visit {visit_id} was requested while {event_type} was handled; retry"
        )
    log.warning(
        "visits.event_ignored",
        visit_id=str(visit_id),
        event_type=event_type,
        current_state=state,
        **ids,
    )


class AssignmentHandlers:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    async def on_assignment_created(
        self, session: AsyncSession, envelope: Envelope, payload: AssignmentCreated
    ) -> None:
        if await repository.was_released(session, payload.assignment_id):
            # A late copy of an assignment that matching has already released.
            log.warning(
                "visits.assignment_already_released",
                visit_id=str(payload.visit_id),
                assignment_id=str(payload.assignment_id),
            )
            return
        visit = await repository.assign(
            session,
            payload.visit_id,
            agent_id=payload.agent_id,
            assigned_at=payload.assigned_at,
            assignment_id=payload.assignment_id,
        )
        if visit is None:
            await _skip_or_wait(
                session,
                payload.visit_id,
                VisitState.ASSIGNED,
                envelope.type,
                agent_id=str(payload.agent_id),
            )
            return
        assigned = VisitAssigned(
            tenant_id=visit.tenant_id,
            visit_id=payload.visit_id,
            campaign_id=visit.campaign_id,
            account_id=visit.account_id,
            agent_id=payload.agent_id,
            requested_at=visit.requested_at,
            assigned_at=payload.assigned_at,
        )
        await self._runtime.emit(session, assigned)
        log.info(
            "visits.assigned",
            visit_id=str(payload.visit_id),
            agent_id=str(payload.agent_id),
        )

    async def on_assignment_released(
        self, session: AsyncSession, envelope: Envelope, payload: AssignmentReleased
    ) -> None:
        """Put the visit back to waiting for an agent, if it is under this assignment.

        The release is stored whatever the visit's state, and a repeat of it
        changes nothing. A withdrawal's release leaves the state to the
        withdrawal itself, which cancels the visit. A visit the agent has
        checked in to stays with the agent. A visit put back to `requested`
        announces it with `campo.visit.released`.
        """
        state = await repository.visit_state(session, payload.visit_id)
        if state is None:
            raise RetryLaterError(
                f"visit {payload.visit_id} has not been requested yet; "
                f"{envelope.type} waits for it"
            )
        ids = {
            "visit_id": str(payload.visit_id),
            "assignment_id": str(payload.assignment_id),
            "reason": payload.reason.value,
        }
        if not await repository.record_release(session, payload):
            log.info("visits.release_already_known", **ids)
            return
        if payload.reason == ReleaseReason.VISIT_WITHDRAWN:
            log.info("visits.release_recorded", current_state=state, **ids)
            return
        unassigned = await repository.unassign(
            session,
            payload.visit_id,
            assignment_id=payload.assignment_id,
            agent_id=payload.agent_id,
        )
        if unassigned is None:
            # The visit is under another assignment now, or the agent has
            # checked in, so the late release changes nothing.
            log.warning("visits.release_ignored", current_state=state, **ids)
            return
        await self._runtime.emit(
            session,
            VisitReleased(
                tenant_id=unassigned.tenant_id,
                visit_id=payload.visit_id,
                campaign_id=unassigned.campaign_id,
                account_id=unassigned.account_id,
                agent_id=payload.agent_id,
                assignment_id=payload.assignment_id,
                reason=payload.reason,
                released_at=payload.released_at,
            ),
        )
        log.info("visits.unassigned", agent_id=str(payload.agent_id), **ids)

    async def on_visit_unmatched(
        self, session: AsyncSession, envelope: Envelope, payload: VisitUnmatched
    ) -> None:
        target = (
            VisitState.EXPIRED
            if payload.reason == EXPIRED_REASON
            else VisitState.OUT_OF_COVERAGE
        )
        visit = await repository.close_unmatched(
            session,
            payload.visit_id,
            target=target,
            reason=payload.reason,
            nearest_agent_distance_m=payload.nearest_agent_distance_m,
            decided_at=payload.decided_at,
        )
        if visit is None:
            await _skip_or_wait(session, payload.visit_id, target, envelope.type)
            return
        event: VisitExpired | VisitOutOfCoverage
        if target == VisitState.EXPIRED:
            event = VisitExpired(
                tenant_id=visit.tenant_id,
                visit_id=payload.visit_id,
                campaign_id=visit.campaign_id,
                account_id=visit.account_id,
                agent_id=visit.agent_id,
                decided_at=payload.decided_at,
            )
        else:
            event = VisitOutOfCoverage(
                tenant_id=visit.tenant_id,
                visit_id=payload.visit_id,
                campaign_id=visit.campaign_id,
                account_id=visit.account_id,
                nearest_agent_distance_m=payload.nearest_agent_distance_m,
                decided_at=payload.decided_at,
            )
        await self._runtime.emit(session, event)
        log.info("visits.closed", visit_id=str(payload.visit_id), state=target.value)
