"""Visit requests and withdrawals: every visit a campaign requests or takes back."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.attempts import repository
from ingest.models import Account, Campaign
from shared.events.payloads import (
    Address,
    Brief,
    DispatchPolicy,
    GeoPoint,
    LocationPrecision,
    Money,
    VisitRequested,
    VisitWithdrawn,
    WithdrawalReason,
)
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)


def campaign_brief(campaign: Campaign) -> Brief:
    """Return the brief sent to agents, built from the columns for old campaigns."""
    if campaign.brief is not None:
        return Brief.model_validate(campaign.brief)
    return Brief(
        objective=campaign.objective,
        questions=campaign.questions,
        max_discount_pct=campaign.max_discount_pct,
    )


def visit_request(
    campaign: Campaign,
    located: Any,
    *,
    visit_id: uuid.UUID,
    attempt: int,
    now: datetime,
) -> VisitRequested:
    """Build the request for a row carrying `Account`, `lat` and `lon`."""
    account: Account = located.Account
    balance = None
    if account.balance_overdue is not None:
        balance = Money(amount=account.balance_overdue, currency=account.currency)
    return VisitRequested(
        tenant_id=campaign.tenant_id,
        visit_id=visit_id,
        campaign_id=campaign.campaign_id,
        account_id=account.account_id,
        account_key=account.account_key,
        attempt=attempt,
        requested_at=now,
        deadline=campaign.deadline,
        fee=Money(amount=Decimal(campaign.fee_amount), currency=campaign.fee_currency),
        location=GeoPoint(lat=located.lat, lon=located.lon),
        address=Address.model_validate(account, from_attributes=True),
        debtor_name=account.debtor_name,
        phone=account.phone,
        balance_overdue=balance,
        days_past_due=account.days_past_due,
        brief=campaign_brief(campaign),
        dispatch=DispatchPolicy.model_validate(campaign.dispatch),
        time_zone=account.time_zone,
        location_precision=account.location_precision,
        location_accuracy_m=(
            account.location_accuracy_m
            if account.location_precision == LocationPrecision.VISIT
            else None
        ),
    )


async def request_visits(
    runtime: ServiceRuntime,
    session: AsyncSession,
    campaign: Campaign,
    located: list[tuple[Any, int]],
    *,
    now: datetime,
) -> list[uuid.UUID]:
    """Mint a visit id per (account row, attempt), record it and emit its request."""
    visit_ids, rows = [], []
    for row, attempt in located:
        visit_id = uuid.uuid4()
        visit_ids.append(visit_id)
        rows.append(
            {
                "visit_id": visit_id,
                "tenant_id": campaign.tenant_id,
                "campaign_id": campaign.campaign_id,
                "account_id": row.Account.account_id,
                "attempt": attempt,
                "state": repository.REQUESTED,
                "requested_at": now,
            }
        )
        await runtime.emit(
            session,
            visit_request(campaign, row, visit_id=visit_id, attempt=attempt, now=now),
        )
    await repository.insert_visits(session, rows)
    return visit_ids


async def withdraw_visits(
    runtime: ServiceRuntime,
    session: AsyncSession,
    condition: ColumnElement[bool],
    *,
    reason: WithdrawalReason,
    now: datetime,
) -> int:
    """Withdraw the open visits matching `condition`; return how many there were.

    Scheduled revisits are left to the caller. Ingest cannot tell whether an
    agent has checked in already, so visits decides that when it receives
    `campo.visit.withdrawn`.
    """
    withdrawn = await repository.withdraw_open(
        session, condition, reason=reason.value, now=now
    )
    for row in withdrawn:
        await runtime.emit(
            session,
            VisitWithdrawn(
                tenant_id=row.tenant_id,
                visit_id=row.visit_id,
                campaign_id=row.campaign_id,
                account_id=row.account_id,
                reason=reason,
                withdrawn_at=now,
            ),
        )
    if withdrawn:
        log.info("visits.withdrawn", reason=reason.value, visit_count=len(withdrawn))
    return len(withdrawn)
