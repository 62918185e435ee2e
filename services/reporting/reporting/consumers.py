"""Event handlers that keep the read models, the stream log and webhook queues.

Events of one visit travel on several topics and are not ordered with each
other. So every handler is an upsert that sets only the columns its event
type owns. First times use LEAST, and ids that several events carry use
COALESCE. Any order and any redelivery of the same events gives the same rows.
"""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reporting import repository
from reporting.export_consumers import with_export_details
from reporting.fanout import fan_out
from reporting.models import common
from reporting.notifier import commit_notifier
from reporting.repository import keep_earliest, keep_known
from shared.auth import tenant_directory_handlers
from shared.consumer import EventConsumer
from shared.events import Envelope
from shared.events.payloads import (
    AccountUpserted,
    CampaignLaunched,
    PromiseBroken,
    PromiseKept,
    PromiseMade,
    PromisePartlyKept,
    PromiseStatusChanged,
    VisitAppealed,
    VisitAppealResolved,
    VisitAssigned,
    VisitCancelled,
    VisitCheckedIn,
    VisitCompleted,
    VisitExpired,
    VisitOutOfCoverage,
    VisitRejected,
    VisitRequested,
)
from shared.events.topics import ALL_TOPICS
from shared.runtime import ServiceRuntime

CONSUMER_GROUP = "read-models"


async def on_campaign_launched(
    session: AsyncSession, envelope: Envelope, payload: CampaignLaunched
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
    await fan_out(session, envelope, payload.campaign_id)


async def on_account_upserted(
    session: AsyncSession, envelope: Envelope, payload: AccountUpserted
) -> None:
    await repository.insert_account(session, payload.tenant_id, payload.account_id)


async def on_visit_requested(
    session: AsyncSession, envelope: Envelope, payload: VisitRequested
) -> None:
    # Not streamed: the request carries the debtor's name, phone and address.
    await repository.upsert_visit_fact(
        session,
        _visit_keys(payload)
        | {"account_id": payload.account_id, "requested_at": payload.requested_at},
        lambda excluded: {
            "campaign_id": excluded.campaign_id,
            "account_id": excluded.account_id,
            "requested_at": excluded.requested_at,
        },
    )


async def on_visit_assigned(
    session: AsyncSession, envelope: Envelope, payload: VisitAssigned
) -> None:
    values = _visit_keys(payload) | {
        "account_id": payload.account_id,
        "requested_at": payload.requested_at,
        "assigned_at": payload.assigned_at,
    }
    await repository.upsert_visit_fact(
        session,
        values,
        lambda excluded: {
            "campaign_id": keep_known(excluded, "campaign_id"),
            "account_id": keep_known(excluded, "account_id"),
            "requested_at": keep_known(excluded, "requested_at"),
            "assigned_at": keep_earliest(excluded, "assigned_at"),
        },
    )
    await fan_out(session, envelope, payload.campaign_id)


async def on_visit_checked_in(
    session: AsyncSession, envelope: Envelope, payload: VisitCheckedIn
) -> None:
    verified_at = payload.checked_in_at if payload.verified else None
    values = _visit_keys(payload) | {
        "first_check_in_at": payload.checked_in_at,
        "first_verified_check_in_at": verified_at,
    }
    await repository.upsert_visit_fact(
        session,
        values,
        lambda excluded: {
            "campaign_id": keep_known(excluded, "campaign_id"),
            "first_check_in_at": keep_earliest(excluded, "first_check_in_at"),
            "first_verified_check_in_at": keep_earliest(
                excluded, "first_verified_check_in_at"
            ),
        },
    )
    await fan_out(session, envelope, payload.campaign_id)


async def on_visit_completed(
    session: AsyncSession, envelope: Envelope, payload: VisitCompleted
) -> None:
    promise = payload.promise
    owned = {
        "completed_at": payload.completed_at,
        "person_met": payload.person_met.value,
        "contact": payload.contact,
        "debtor_lives_there": payload.debtor_lives_there,
        "promise_amount": promise.amount.amount if promise else None,
        "promise_currency": promise.amount.currency if promise else None,
    }
    await repository.upsert_visit_fact(
        session,
        _visit_keys(payload) | {"account_id": payload.account_id} | owned,
        lambda excluded: {
            "campaign_id": keep_known(excluded, "campaign_id"),
            "account_id": keep_known(excluded, "account_id"),
            **{name: excluded[name] for name in owned},
        },
    )
    await fan_out(session, envelope, payload.campaign_id)


async def on_visit_out_of_coverage(
    session: AsyncSession, envelope: Envelope, payload: VisitOutOfCoverage
) -> None:
    values = _visit_keys(payload) | {
        "account_id": payload.account_id,
        "out_of_coverage_at": payload.decided_at,
        "nearest_agent_distance_m": payload.nearest_agent_distance_m,
    }
    await repository.upsert_visit_fact(
        session,
        values,
        lambda excluded: {
            "campaign_id": keep_known(excluded, "campaign_id"),
            "account_id": keep_known(excluded, "account_id"),
            "out_of_coverage_at": excluded.out_of_coverage_at,
            "nearest_agent_distance_m": excluded.nearest_agent_distance_m,
        },
    )
    await fan_out(session, envelope, payload.campaign_id)


async def on_visit_expired(
    session: AsyncSession, envelope: Envelope, payload: VisitExpired
) -> None:
    values = _visit_keys(payload) | {
        "account_id": payload.account_id,
        "expired_at": payload.decided_at,
    }
    await repository.upsert_visit_fact(
        session,
        values,
        lambda excluded: {
            "campaign_id": keep_known(excluded, "campaign_id"),
            "account_id": keep_known(excluded, "account_id"),
            "expired_at": excluded.expired_at,
        },
    )
    await fan_out(session, envelope, payload.campaign_id)


async def on_visit_cancelled(
    session: AsyncSession, envelope: Envelope, payload: VisitCancelled
) -> None:
    values = _visit_keys(payload) | {
        "account_id": payload.account_id,
        "cancelled_at": payload.decided_at,
        "cancel_reason": payload.reason.value,
    }
    await repository.upsert_visit_fact(
        session,
        values,
        lambda excluded: {
            "campaign_id": keep_known(excluded, "campaign_id"),
            "account_id": keep_known(excluded, "account_id"),
            "cancelled_at": excluded.cancelled_at,
            "cancel_reason": excluded.cancel_reason,
        },
    )
    await fan_out(session, envelope, payload.campaign_id)


async def on_review_step(
    session: AsyncSession,
    envelope: Envelope,
    payload: VisitRejected | VisitAppealed | VisitAppealResolved,
) -> None:
    # NOTE: the campaign figures still count a rejected visit as completed;
    # these events only reach the live stream and the webhooks.
    await fan_out(session, envelope, payload.campaign_id)


async def on_promise_made(
    session: AsyncSession, envelope: Envelope, payload: PromiseMade
) -> None:
    # The promise's figures come from visit.completed; this only streams it.
    await fan_out(session, envelope, payload.campaign_id)


async def on_promise_status_changed(
    session: AsyncSession, envelope: Envelope, payload: PromiseStatusChanged
) -> None:
    # Only streamed and sent as webhooks; the campaign figures do not count them.
    await fan_out(session, envelope, payload.campaign_id)


def _visit_keys(payload: Any) -> dict[str, Any]:
    return {
        "visit_id": payload.visit_id,
        "tenant_id": payload.tenant_id,
        "campaign_id": payload.campaign_id,
    }


HANDLERS: dict[type, Any] = {
    **tenant_directory_handlers(common),
    AccountUpserted: on_account_upserted,
    CampaignLaunched: on_campaign_launched,
    VisitRequested: on_visit_requested,
    VisitAssigned: on_visit_assigned,
    VisitCheckedIn: on_visit_checked_in,
    VisitCompleted: on_visit_completed,
    VisitOutOfCoverage: on_visit_out_of_coverage,
    VisitExpired: on_visit_expired,
    VisitCancelled: on_visit_cancelled,
    PromiseMade: on_promise_made,
    PromiseKept: on_promise_status_changed,
    PromisePartlyKept: on_promise_status_changed,
    PromiseBroken: on_promise_status_changed,
    VisitRejected: on_review_step,
    VisitAppealed: on_review_step,
    VisitAppealResolved: on_review_step,
}


def build_consumers(runtime: ServiceRuntime) -> list[EventConsumer]:
    notifier = commit_notifier(runtime)
    consumer = runtime.consumer(
        group=CONSUMER_GROUP,
        streams=list(ALL_TOPICS),
        handlers=with_export_details(HANDLERS),
        after_commit=notifier.notify,
    )
    return [consumer]
