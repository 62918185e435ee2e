"""Campaigns: a selection of accounts plus the brief, launched as visit requests."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.campaigns import repository
from ingest.campaigns.schemas import (
    CampaignCreate,
    CampaignOut,
    ExcludedAccount,
    LaunchOut,
)
from ingest.models import Account, Campaign
from ingest.uploads.repository import tenant_currency
from shared.errors import InvalidStateError, NotFoundError, UnprocessableError
from shared.events.payloads import (
    Address,
    Brief,
    CampaignLaunched,
    GeoPoint,
    Money,
    VisitRequested,
)
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)

MAX_UNKNOWN_KEYS_SHOWN = 20
NO_COORDINATES = (
    "no coordinates: add Latitud and Longitud to the account and upload it again"
)


class EmptySelectionError(UnprocessableError):
    code = "empty-selection"
    title = "The selection matches no account"


class UnknownAccountsError(UnprocessableError):
    code = "unknown-accounts"
    title = "Some selected accounts do not exist"


async def create_campaign(
    session: AsyncSession, *, tenant_id: uuid.UUID, request: CampaignCreate
) -> CampaignOut:
    """Create a draft campaign with its selection; the caller owns the transaction."""
    selected = await repository.select_accounts(
        session, tenant_id=tenant_id, selection=request.selection
    )
    if request.selection.account_keys is not None:
        found = {key for _, key in selected}
        unknown = [
            k for k in dict.fromkeys(request.selection.account_keys) if k not in found
        ]
        if unknown:
            shown = ", ".join(unknown[:MAX_UNKNOWN_KEYS_SHOWN])
            raise UnknownAccountsError(
                f"{len(unknown)} account keys are not in the portfolio: {shown}; "
                "upload those accounts first or remove them from the selection",
                unknown_account_keys=unknown[:MAX_UNKNOWN_KEYS_SHOWN],
            )
    if not selected:
        raise EmptySelectionError(
            "the selection matches no account of this tenant; upload a portfolio "
            "first or widen the filters"
        )
    currency = request.currency or await tenant_currency(session, tenant_id)
    campaign = Campaign(
        campaign_id=uuid.uuid4(),
        tenant_id=tenant_id,
        name=request.name,
        status="draft",
        objective=request.objective,
        questions=request.questions,
        max_discount_pct=request.max_discount_pct,
        fee_amount=request.fee_amount,
        fee_currency=currency,
        deadline=request.deadline,
        selection=request.selection.model_dump(mode="json", exclude_none=True),
        created_at=datetime.now(UTC),
    )
    await repository.insert_campaign(session, campaign)
    await repository.insert_campaign_accounts(
        session,
        campaign_id=campaign.campaign_id,
        tenant_id=tenant_id,
        account_ids=[account_id for account_id, _ in selected],
    )
    return _campaign_out(campaign, len(selected))


async def get_campaign(
    session: AsyncSession, *, tenant_id: uuid.UUID, campaign_id: uuid.UUID
) -> CampaignOut:
    async with session.begin():
        campaign = await _require(session, tenant_id, campaign_id)
        counts = await repository.count_selected(session, [campaign_id])
    return _campaign_out(campaign, counts.get(campaign_id, 0))


async def list_campaigns(
    session: AsyncSession, *, tenant_id: uuid.UUID
) -> list[CampaignOut]:
    async with session.begin():
        campaigns = await repository.list_campaigns(session, tenant_id=tenant_id)
        counts = await repository.count_selected(
            session, [c.campaign_id for c in campaigns]
        )
    return [_campaign_out(c, counts.get(c.campaign_id, 0)) for c in campaigns]


async def launch_campaign(
    runtime: ServiceRuntime,
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    campaign_id: uuid.UUID,
) -> LaunchOut:
    """Mint a visit id per selected account and publish one visit request each.

    The draft-to-launched update is conditional, so of two concurrent
    launches exactly one publishes requests and the other gets a 409.
    """
    async with session.begin():
        campaign = await repository.mark_launched(
            session, tenant_id=tenant_id, campaign_id=campaign_id
        )
        if campaign is None:
            current = await _require(session, tenant_id, campaign_id)
            raise InvalidStateError(
                f"campaign {campaign_id} is {current.status}; "
                "only a draft campaign can be launched",
                current_state=current.status,
            )
        now = datetime.now(UTC)
        updates, excluded = [], []
        for row in await repository.accounts_to_visit(session, campaign_id=campaign_id):
            account: Account = row.Account
            if row.lat is None:
                excluded.append(
                    ExcludedAccount(
                        account_key=account.account_key, reason=NO_COORDINATES
                    )
                )
                updates.append(
                    {"id": row.selection_id, "excluded_reason": NO_COORDINATES}
                )
                continue
            visit_id = uuid.uuid4()
            updates.append({"id": row.selection_id, "visit_id": visit_id})
            await runtime.emit(
                session,
                _visit_request(campaign, account, row.lat, row.lon, visit_id, now),
            )
        await repository.set_visit_ids(session, updates)
        visit_count = len(updates) - len(excluded)
        await runtime.emit(
            session,
            CampaignLaunched(
                tenant_id=tenant_id,
                campaign_id=campaign_id,
                name=campaign.name,
                account_count=len(updates),
                visit_count=visit_count,
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
        visit_count=visit_count,
        excluded_count=len(excluded),
    )
    return LaunchOut(
        campaign_id=campaign_id,
        status="launched",
        visit_count=visit_count,
        excluded=excluded,
    )


def _visit_request(
    campaign: Campaign,
    account: Account,
    lat: float,
    lon: float,
    visit_id: uuid.UUID,
    now: datetime,
) -> VisitRequested:
    balance = None
    if account.balance_overdue is not None:
        balance = Money(amount=account.balance_overdue, currency=account.currency)
    return VisitRequested(
        tenant_id=campaign.tenant_id,
        visit_id=visit_id,
        campaign_id=campaign.campaign_id,
        account_id=account.account_id,
        account_key=account.account_key,
        requested_at=now,
        deadline=campaign.deadline,
        fee=Money(amount=Decimal(campaign.fee_amount), currency=campaign.fee_currency),
        location=GeoPoint(lat=lat, lon=lon),
        address=Address.model_validate(account, from_attributes=True),
        debtor_name=account.debtor_name,
        phone=account.phone,
        balance_overdue=balance,
        days_past_due=account.days_past_due,
        brief=Brief(
            objective=campaign.objective,
            questions=campaign.questions,
            max_discount_pct=campaign.max_discount_pct,
        ),
    )


async def _require(
    session: AsyncSession, tenant_id: uuid.UUID, campaign_id: uuid.UUID
) -> Campaign:
    campaign = await repository.get_campaign(
        session, tenant_id=tenant_id, campaign_id=campaign_id
    )
    if campaign is None:
        raise NotFoundError(f"campaign {campaign_id} not found")
    return campaign


def _campaign_out(campaign: Campaign, selected: int) -> CampaignOut:
    return CampaignOut(
        campaign_id=campaign.campaign_id,
        name=campaign.name,
        status=campaign.status,
        objective=campaign.objective,
        questions=campaign.questions,
        max_discount_pct=campaign.max_discount_pct,
        fee_amount=campaign.fee_amount,
        currency=campaign.fee_currency,
        deadline=campaign.deadline,
        selected_accounts=selected,
        created_at=campaign.created_at,
        launched_at=campaign.launched_at,
    )
