"""Apply events to the read models: campaigns, accounts and one row per visit.

Events of one visit travel on several topics and are not ordered with each
other. So every applier is an upsert that sets only the columns its event
type owns. First times use LEAST, ids that several events carry use
COALESCE, and a value that changes over time (the assigned agent, the
promise's status) is replaced only by an event that is not older. Any order
and any repetition of the same events gives the same rows, which is what
lets `campo-reporting rebuild` replay the topics into empty tables. The one
exception is a release, which clears only an assignment older than itself:
visits announces a visit's assignments and releases in order on one key.

Appliers write nothing else: the live stream and the webhook queues are
fed by the consumer (`consumers.py`), never by a replay.

Most appliers are a `VisitUpsert`: a row and its SET terms, which the
consumer's batch path also upserts many rows at a time (`batch.py`).
"""

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import case, or_
from sqlalchemy.ext.asyncio import AsyncSession

from reporting import repository
from reporting.models import Account, Campaign, VisitFact
from reporting.repository import Excluded, VisitUpsert, keep_earliest, keep_known
from shared.events.payloads import (
    AccountUpserted,
    AppealOutcome,
    CampaignLaunched,
    PromiseBroken,
    PromiseKept,
    PromisePartlyKept,
    VisitAppealResolved,
    VisitAssigned,
    VisitCancelled,
    VisitCheckedIn,
    VisitCompleted,
    VisitExpired,
    VisitOutOfCoverage,
    VisitRejected,
    VisitReleased,
    VisitRequested,
)

Applier = Callable[[AsyncSession, Any], Awaitable[None]]

# The tables a rebuild empties and fills again from the topics.
READ_MODEL_TABLES = (VisitFact.__table__, Campaign.__table__, Account.__table__)


async def apply_campaign_launched(
    session: AsyncSession, payload: CampaignLaunched
) -> None:
    await repository.upsert_campaign(
        session,
        {
            "campaign_id": payload.campaign_id,
            "tenant_id": payload.tenant_id,
            "name": payload.name,
            "account_count": payload.account_count,
            "visit_count": payload.visit_count,
            "excluded_count": payload.excluded_count,
            "launched_at": payload.launched_at,
            "deadline": payload.deadline,
        },
    )


async def apply_account_upserted(
    session: AsyncSession, payload: AccountUpserted
) -> None:
    await repository.insert_account(session, payload.tenant_id, payload.account_id)


VISIT_REQUESTED_OWNED = (
    "account_id",
    "requested_at",
    "deadline",
    "address_state",
    "municipality",
    "postal_code",
    "time_zone",
)


def _visit_requested_row(payload: VisitRequested) -> dict[str, Any]:
    address = payload.address
    return _visit_keys(payload) | {
        "account_id": payload.account_id,
        "requested_at": payload.requested_at,
        "deadline": payload.deadline,
        "address_state": address.state,
        "municipality": address.municipality,
        "postal_code": address.postal_code,
        "time_zone": payload.time_zone,
    }


apply_visit_requested = VisitUpsert(
    VisitFact,
    _visit_requested_row,
    lambda excluded: {
        "campaign_id": excluded.campaign_id,
        **{name: excluded[name] for name in VISIT_REQUESTED_OWNED},
    },
)


async def apply_visit_released(session: AsyncSession, payload: VisitReleased) -> None:
    """Show the visit as requested again until the next agent takes it.

    Only an assignment from before the release is cleared, so the next
    agent's assignment, which visits announces after it on the same key, is
    never lost. The release time goes into the SET terms themselves, so the
    batch path applies releases one statement each.
    """
    released_at = payload.released_at
    await repository.upsert_visit_fact(
        session,
        _visit_keys(payload) | {"account_id": payload.account_id},
        lambda excluded: {
            "campaign_id": keep_known(excluded, "campaign_id"),
            "account_id": keep_known(excluded, "account_id"),
            "assigned_at": repository.cleared_before(
                VisitFact.assigned_at, released_at
            ),
        },
    )


apply_visit_assigned = VisitUpsert(
    VisitFact,
    lambda payload: (
        _visit_keys(payload)
        | {
            "account_id": payload.account_id,
            "requested_at": payload.requested_at,
            "assigned_at": payload.assigned_at,
            "agent_id": payload.agent_id,
            "agent_assigned_at": payload.assigned_at,
        }
    ),
    lambda excluded: {
        "campaign_id": keep_known(excluded, "campaign_id"),
        "account_id": keep_known(excluded, "account_id"),
        "requested_at": keep_known(excluded, "requested_at"),
        "assigned_at": keep_earliest(excluded, "assigned_at"),
        # A visit given back goes to another agent, so the latest assignment wins.
        **keep_newest(excluded, ("agent_id", "agent_assigned_at"), "agent_assigned_at"),
    },
)


apply_visit_checked_in = VisitUpsert(
    VisitFact,
    lambda payload: (
        _visit_keys(payload)
        | {
            "first_check_in_at": payload.checked_in_at,
            "first_verified_check_in_at": payload.checked_in_at
            if payload.verified
            else None,
        }
    ),
    lambda excluded: {
        "campaign_id": keep_known(excluded, "campaign_id"),
        "first_check_in_at": keep_earliest(excluded, "first_check_in_at"),
        "first_verified_check_in_at": keep_earliest(
            excluded, "first_verified_check_in_at"
        ),
    },
)


VISIT_COMPLETED_OWNED = (
    "completed_at",
    "completed_agent_id",
    "person_met",
    "contact",
    "debtor_lives_there",
    "promise_amount",
    "promise_currency",
    "fraud_score",
    "flagged",
)


def _visit_completed_row(payload: VisitCompleted) -> dict[str, Any]:
    promise = payload.promise
    return _visit_keys(payload) | {
        "account_id": payload.account_id,
        "completed_at": payload.completed_at,
        "completed_agent_id": payload.agent_id,
        "person_met": payload.person_met.value,
        "contact": payload.contact,
        "debtor_lives_there": payload.debtor_lives_there,
        "promise_amount": promise.amount.amount if promise else None,
        "promise_currency": promise.amount.currency if promise else None,
        "fraud_score": payload.fraud_score,
        "flagged": payload.flagged,
    }


apply_visit_completed = VisitUpsert(
    VisitFact,
    _visit_completed_row,
    lambda excluded: {
        "campaign_id": keep_known(excluded, "campaign_id"),
        "account_id": keep_known(excluded, "account_id"),
        **{name: excluded[name] for name in VISIT_COMPLETED_OWNED},
    },
)


apply_visit_out_of_coverage = VisitUpsert(
    VisitFact,
    lambda payload: (
        _visit_keys(payload)
        | {
            "account_id": payload.account_id,
            "out_of_coverage_at": payload.decided_at,
            "nearest_agent_distance_m": payload.nearest_agent_distance_m,
        }
    ),
    lambda excluded: {
        "campaign_id": keep_known(excluded, "campaign_id"),
        "account_id": keep_known(excluded, "account_id"),
        "out_of_coverage_at": excluded.out_of_coverage_at,
        "nearest_agent_distance_m": excluded.nearest_agent_distance_m,
    },
)


apply_visit_expired = VisitUpsert(
    VisitFact,
    lambda payload: (
        _visit_keys(payload)
        | {"account_id": payload.account_id, "expired_at": payload.decided_at}
    ),
    lambda excluded: {
        "campaign_id": keep_known(excluded, "campaign_id"),
        "account_id": keep_known(excluded, "account_id"),
        "expired_at": excluded.expired_at,
    },
)


apply_visit_cancelled = VisitUpsert(
    VisitFact,
    lambda payload: (
        _visit_keys(payload)
        | {
            "account_id": payload.account_id,
            "cancelled_at": payload.decided_at,
            "cancel_reason": payload.reason.value,
        }
    ),
    lambda excluded: {
        "campaign_id": keep_known(excluded, "campaign_id"),
        "account_id": keep_known(excluded, "account_id"),
        "cancelled_at": excluded.cancelled_at,
        "cancel_reason": excluded.cancel_reason,
    },
)


apply_visit_rejected = VisitUpsert(
    VisitFact,
    lambda payload: (
        _visit_keys(payload)
        | {"account_id": payload.account_id, "rejected_at": payload.rejected_at}
    ),
    lambda excluded: {
        "campaign_id": keep_known(excluded, "campaign_id"),
        "account_id": keep_known(excluded, "account_id"),
        # A visit is reviewed once, so its first rejection is the one.
        "rejected_at": keep_earliest(excluded, "rejected_at"),
    },
)


def _overturned_row(payload: VisitAppealResolved) -> dict[str, Any] | None:
    # An upheld appeal changes no figure: the visit stays rejected.
    if payload.outcome is not AppealOutcome.OVERTURNED:
        return None
    return _visit_keys(payload) | {
        "account_id": payload.account_id,
        "rejection_overturned_at": payload.resolved_at,
    }


apply_appeal_resolved = VisitUpsert(
    VisitFact,
    _overturned_row,
    lambda excluded: {
        "campaign_id": keep_known(excluded, "campaign_id"),
        "account_id": keep_known(excluded, "account_id"),
        "rejection_overturned_at": keep_earliest(excluded, "rejection_overturned_at"),
    },
)


apply_promise_status = VisitUpsert(
    VisitFact,
    lambda payload: (
        _visit_keys(payload)
        | {
            "account_id": payload.account_id,
            "promise_status": payload.status,
            "promise_amount_paid": payload.amount_paid.amount,
            "promise_status_at": payload.changed_at,
        }
    ),
    lambda excluded: {
        "campaign_id": keep_known(excluded, "campaign_id"),
        "account_id": keep_known(excluded, "account_id"),
        **keep_newest(
            excluded,
            ("promise_status", "promise_amount_paid", "promise_status_at"),
            "promise_status_at",
        ),
    },
)


def keep_newest(excluded: Excluded, names: tuple[str, ...], at: str) -> dict[str, Any]:
    """Build SET terms that take the new values unless the stored ones are newer.

    On a tie the event applied last wins. One visit's events share a
    partition, so a replay applies ties in the order the live consumer did.
    """
    stored_at = getattr(VisitFact, at)
    newer = or_(stored_at.is_(None), excluded[at] >= stored_at)
    return {
        name: case((newer, excluded[name]), else_=getattr(VisitFact, name))
        for name in names
    }


def _visit_keys(payload: Any) -> dict[str, Any]:
    return {
        "visit_id": payload.visit_id,
        "tenant_id": payload.tenant_id,
        "campaign_id": payload.campaign_id,
    }


APPLIERS: dict[type, Applier] = {
    CampaignLaunched: apply_campaign_launched,
    AccountUpserted: apply_account_upserted,
    VisitRequested: apply_visit_requested,
    VisitAssigned: apply_visit_assigned,
    VisitReleased: apply_visit_released,
    VisitCheckedIn: apply_visit_checked_in,
    VisitCompleted: apply_visit_completed,
    VisitOutOfCoverage: apply_visit_out_of_coverage,
    VisitExpired: apply_visit_expired,
    VisitCancelled: apply_visit_cancelled,
    VisitRejected: apply_visit_rejected,
    VisitAppealResolved: apply_appeal_resolved,
    PromiseKept: apply_promise_status,
    PromisePartlyKept: apply_promise_status,
    PromiseBroken: apply_promise_status,
}
