"""Campaign state changes: launch, pause, resume, cancel and complete.

Each change is one conditional UPDATE (see `states.py`), so of two
concurrent requests exactly one moves the campaign and the other gets a
409 with the current state. The visits requested or withdrawn by the change
go to the outbox in the same transaction.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.attempts import repository as attempts
from ingest.attempts.service import request_visits, withdraw_visits
from ingest.campaigns import repository
from ingest.campaigns.schemas import ExcludedAccount, LaunchOut, TransitionOut
from ingest.campaigns.service import require
from ingest.campaigns.states import (
    CANCEL,
    COMPLETE,
    LAUNCH,
    PAUSE,
    RESUME,
    Transition,
    describe_sources,
)
from ingest.models import Campaign, CampaignVisit, Revisit
from shared.errors import InvalidStateError
from shared.events.payloads import CampaignLaunched
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)

NO_COORDINATES = (
    "no coordinates: add Latitud and Longitud to the account and upload it again"
)
FLAGGED = {
    "recalled": "recalled by the creditor",
    "do_not_contact": "flagged do-not-contact",
    "do_not_visit": "flagged do-not-visit",
}


async def _transition(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    campaign_id: uuid.UUID,
    transition: Transition,
    now: datetime,
) -> Campaign:
    campaign = await repository.apply_transition(
        session,
        tenant_id=tenant_id,
        campaign_id=campaign_id,
        transition=transition,
        now=now,
    )
    if campaign is None:
        current = await require(session, tenant_id, campaign_id)
        raise InvalidStateError(
            f"campaign {campaign_id} is {current.status}; only "
            f"{describe_sources(transition)} can {transition.action}",
            current_state=current.status,
        )
    return campaign


async def launch_campaign(
    runtime: ServiceRuntime,
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    campaign_id: uuid.UUID,
) -> LaunchOut:
    """Request one visit per selected account that has coordinates and no flag."""
    now = datetime.now(UTC)
    async with session.begin():
        campaign = await _transition(session, tenant_id, campaign_id, LAUNCH, now)
        updates: list[dict[str, Any]] = []
        excluded: list[ExcludedAccount] = []
        located: list[tuple[Any, int]] = []
        for row in await repository.accounts_to_visit(session, campaign_id=campaign_id):
            reason = _left_out(row)
            if reason is not None:
                excluded.append(
                    ExcludedAccount(account_key=row.Account.account_key, reason=reason)
                )
                updates.append({"id": row.selection_id, "excluded_reason": reason})
            else:
                located.append((row, 1))
        visit_ids = await request_visits(runtime, session, campaign, located, now=now)
        updates += [
            {"id": row.selection_id, "visit_id": visit_id}
            for (row, _), visit_id in zip(located, visit_ids, strict=True)
        ]
        await repository.set_visit_ids(session, updates)
        await runtime.emit(
            session,
            CampaignLaunched(
                tenant_id=tenant_id,
                campaign_id=campaign_id,
                name=campaign.name,
                account_count=len(updates),
                visit_count=len(visit_ids),
                excluded_count=len(excluded),
                deadline=campaign.deadline,
                launched_at=now,
            ),
        )
    runtime.relay.notify()
    log.info(
        "campaign.launched",
        tenant_id=str(tenant_id),
        campaign_id=str(campaign_id),
        visit_count=len(visit_ids),
        excluded_count=len(excluded),
    )
    return LaunchOut(
        campaign_id=campaign_id,
        status=campaign.status,
        visit_count=len(visit_ids),
        excluded=excluded,
    )


def _left_out(row: Any) -> str | None:
    if row.exclusion is not None:
        return FLAGGED[row.exclusion]
    if row.lat is None:
        return NO_COORDINATES
    return None


async def stop_campaign(
    runtime: ServiceRuntime,
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    campaign_id: uuid.UUID,
    transition: Transition,
) -> TransitionOut:
    """Pause, cancel or complete: withdraw the visits not yet done.

    A pause keeps the scheduled revisits, which wait until a resume; a
    cancel or a completion cancels them.
    """
    assert transition in (PAUSE, CANCEL, COMPLETE)
    assert transition.withdraws is not None
    now = datetime.now(UTC)
    async with session.begin():
        campaign = await _transition(session, tenant_id, campaign_id, transition, now)
        withdrawn = await withdraw_visits(
            runtime,
            session,
            CampaignVisit.campaign_id == campaign_id,
            reason=transition.withdraws,
            now=now,
        )
        if transition is not PAUSE:
            await attempts.cancel_scheduled_revisits(
                session,
                Revisit.campaign_id == campaign_id,
                reason=transition.withdraws.value,
                now=now,
            )
    runtime.relay.notify()
    log.info(
        "campaign.stopped",
        action=transition.action,
        tenant_id=str(tenant_id),
        campaign_id=str(campaign_id),
        withdrawn_visits=withdrawn,
    )
    return TransitionOut(
        campaign_id=campaign_id,
        status=campaign.status,
        withdrawn_visits=withdrawn,
        requested_visits=0,
    )


async def resume_campaign(
    runtime: ServiceRuntime,
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    campaign_id: uuid.UUID,
) -> TransitionOut:
    """Request again, as new attempts, the visits the latest pause withdrew.

    Accounts flagged or recalled during the pause are not requested again.
    """
    now = datetime.now(UTC)
    async with session.begin():
        paused = await require(session, tenant_id, campaign_id)
        paused_at = paused.paused_at
        campaign = await _transition(session, tenant_id, campaign_id, RESUME, now)
        rows = []
        if paused_at is not None:
            rows = await attempts.withdrawn_by_pause(session, campaign_id, paused_at)
        located = [
            (row, row.attempt + 1)
            for row in rows
            if row.exclusion is None and row.lat is not None
        ]
        visit_ids = await request_visits(runtime, session, campaign, located, now=now)
    runtime.relay.notify()
    log.info(
        "campaign.resumed",
        tenant_id=str(tenant_id),
        campaign_id=str(campaign_id),
        requested_visits=len(visit_ids),
    )
    return TransitionOut(
        campaign_id=campaign_id,
        status=campaign.status,
        withdrawn_visits=0,
        requested_visits=len(visit_ids),
    )
