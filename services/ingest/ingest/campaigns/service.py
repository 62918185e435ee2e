"""Campaigns: a selection of accounts plus the brief, and previews of selections."""

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ingest.accounts.keys import key_form
from ingest.campaigns import repository
from ingest.campaigns.schemas import (
    CampaignCreate,
    CampaignOut,
    ExclusionCount,
    PreviewOut,
    Selection,
)
from ingest.models import Campaign
from ingest.uploads.repository import tenant_currency
from shared.errors import NotFoundError, UnprocessableError
from shared.events.payloads import (
    Brief,
    CreditorIdentification,
    DispatchPolicy,
    DownPayment,
    Money,
    NegotiationPolicy,
    ObjectiveKind,
)

MAX_UNKNOWN_KEYS_SHOWN = 20


class EmptySelectionError(UnprocessableError):
    code = "empty-selection"
    title = "The selection matches no account"


class UnknownAccountsError(UnprocessableError):
    code = "unknown-accounts"
    title = "Some selected accounts do not exist"


async def create_campaign(
    session: AsyncSession, *, tenant_id: uuid.UUID, request: CampaignCreate
) -> CampaignOut:
    """Create a draft campaign with its selection; the caller owns the transaction.

    Accounts flagged do-not-visit, do-not-contact or recalled are left out.
    """
    selection = request.selection
    matched = await repository.select_accounts(
        session, tenant_id=tenant_id, selection=selection, now=datetime.now(UTC)
    )
    _reject_unknown(selection, matched)
    selected = [row.account_id for row in matched if row.exclusion is None]
    if not selected:
        flagged = len(matched) - len(selected)
        hint = (
            f"all {flagged} matched accounts are flagged or recalled; "
            if flagged
            else "upload a portfolio first or "
        )
        raise EmptySelectionError(
            f"the selection matches no account a campaign may visit: {hint}"
            "widen the filters",
            excluded=flagged,
        )
    currency = request.currency or await tenant_currency(session, tenant_id)
    brief = _brief(request, currency)
    campaign = Campaign(
        campaign_id=uuid.uuid4(),
        tenant_id=tenant_id,
        name=request.name,
        status="draft",
        objective=brief.objective,
        questions=request.questions,
        max_discount_pct=brief.max_discount_pct,
        fee_amount=request.fee_amount,
        fee_currency=currency,
        deadline=request.deadline,
        selection=selection.model_dump(mode="json", exclude_none=True),
        brief=brief.model_dump(mode="json"),
        dispatch=request.dispatch.policy().model_dump(mode="json"),
        created_at=datetime.now(UTC),
    )
    await repository.insert_campaign(session, campaign)
    await repository.insert_campaign_accounts(
        session,
        campaign_id=campaign.campaign_id,
        tenant_id=tenant_id,
        account_ids=selected,
    )
    return campaign_out(campaign, len(selected))


def _unknown(selection: Selection, matched: list[Any]) -> tuple[list[str], str]:
    """Return the listed accounts that are not in the portfolio, and their label."""
    requested: list[str]
    if selection.account_keys is not None:
        found = {key_form(row.account_key) for row in matched}
        requested = list(dict.fromkeys(selection.account_keys))
        unknown = [value for value in requested if key_form(value) not in found]
        return unknown, "key"
    if selection.account_ids is not None:
        found = {str(row.account_id) for row in matched}
        requested = [str(i) for i in dict.fromkeys(selection.account_ids)]
        return [value for value in requested if value not in found], "id"
    return [], ""


def _reject_unknown(selection: Selection, matched: list[Any]) -> None:
    unknown, kind = _unknown(selection, matched)
    if unknown:
        shown = ", ".join(unknown[:MAX_UNKNOWN_KEYS_SHOWN])
        counted = (
            f"1 account {kind} is"
            if len(unknown) == 1
            else f"{len(unknown)} account {kind}s are"
        )
        raise UnknownAccountsError(
            f"{counted} not in the portfolio: {shown}; "
            "upload those accounts first or remove them from the selection",
            **{f"unknown_account_{kind}s": unknown[:MAX_UNKNOWN_KEYS_SHOWN]},
        )


def _brief(request: CampaignCreate, currency: str) -> Brief:
    policy = request.policy()
    down_payment = None
    if policy.min_down_payment is not None:
        amount = policy.min_down_payment.amount
        down_payment = DownPayment(
            amount=Money(amount=amount, currency=currency) if amount else None,
            percent_of_balance=policy.min_down_payment.percent_of_balance,
        )
    creditor = None
    if request.creditor is not None:
        creditor = CreditorIdentification.model_validate(request.creditor.model_dump())
    return Brief(
        objective=request.objective.text(),
        objective_kind=ObjectiveKind(request.objective.kind),
        questions=request.questions,
        max_discount_pct=policy.max_discount_pct,
        negotiation=NegotiationPolicy(
            max_discount_pct=policy.max_discount_pct,
            installment_counts=policy.installment_counts,
            min_down_payment=down_payment,
            latest_promise_date=policy.latest_promise_date,
        ),
        creditor=creditor,
    )


async def preview_selection(
    session: AsyncSession, *, tenant_id: uuid.UUID, selection: Selection
) -> PreviewOut:
    """Count and sum the selection; name the listed accounts it does not find."""
    now = datetime.now(UTC)
    unknown: list[str] = []
    async with session.begin():
        groups = await repository.preview_selection(
            session, tenant_id=tenant_id, selection=selection, now=now
        )
        if selection.account_keys is not None or selection.account_ids is not None:
            matched = await repository.select_accounts(
                session, tenant_id=tenant_id, selection=selection, now=now
            )
            unknown, _ = _unknown(selection, matched)
    preview = _preview(groups)
    preview.unknown_accounts = unknown[:MAX_UNKNOWN_KEYS_SHOWN]
    preview.unknown_count = len(unknown)
    return preview


async def preview_campaign(
    session: AsyncSession, *, tenant_id: uuid.UUID, campaign_id: uuid.UUID
) -> PreviewOut:
    """Preview the campaign's accounts as they stand now, flags set since included."""
    async with session.begin():
        await require(session, tenant_id, campaign_id)
        groups = await repository.preview_campaign(session, campaign_id)
    return _preview(groups)


def _preview(groups: list[Any]) -> PreviewOut:
    balances: dict[str, Decimal] = defaultdict(Decimal)
    exclusions: dict[tuple[str, str | None], int] = defaultdict(int)
    matched = selected = without_coordinates = 0
    for group in groups:
        matched += group.accounts
        if group.flag is not None:
            exclusions[(group.flag, group.reason)] += group.accounts
            continue
        selected += group.accounts
        without_coordinates += group.without_location
        balances[group.currency] += Decimal(group.balance)
    return PreviewOut(
        matched=matched,
        selected=selected,
        balance_total=[
            Money(amount=amount, currency=currency)
            for currency, amount in sorted(balances.items())
        ],
        without_coordinates=without_coordinates,
        excluded=matched - selected,
        exclusions=[
            ExclusionCount(flag=flag, reason=reason, count=count)
            for (flag, reason), count in sorted(
                exclusions.items(), key=lambda item: (item[0][0], item[0][1] or "")
            )
        ],
    )


async def get_campaign(
    session: AsyncSession, *, tenant_id: uuid.UUID, campaign_id: uuid.UUID
) -> CampaignOut:
    async with session.begin():
        campaign = await require(session, tenant_id, campaign_id)
        counts = await repository.count_selected(session, [campaign_id])
    return campaign_out(campaign, counts.get(campaign_id, 0))


async def list_campaigns(
    session: AsyncSession, *, tenant_id: uuid.UUID
) -> list[CampaignOut]:
    async with session.begin():
        campaigns = await repository.list_campaigns(session, tenant_id=tenant_id)
        counts = await repository.count_selected(
            session, [c.campaign_id for c in campaigns]
        )
    return [campaign_out(c, counts.get(c.campaign_id, 0)) for c in campaigns]


async def require(
    session: AsyncSession, tenant_id: uuid.UUID, campaign_id: uuid.UUID
) -> Campaign:
    campaign = await repository.get_campaign(
        session, tenant_id=tenant_id, campaign_id=campaign_id
    )
    if campaign is None:
        raise NotFoundError(f"campaign {campaign_id} not found")
    return campaign


def campaign_out(campaign: Campaign, selected: int) -> CampaignOut:
    kind = (campaign.brief or {}).get("objective_kind", ObjectiveKind.OTHER)
    return CampaignOut(
        campaign_id=campaign.campaign_id,
        name=campaign.name,
        status=campaign.status,
        objective=campaign.objective,
        objective_kind=kind,
        questions=campaign.questions,
        max_discount_pct=campaign.max_discount_pct,
        brief=campaign.brief,
        fee_amount=campaign.fee_amount,
        currency=campaign.fee_currency,
        deadline=campaign.deadline,
        dispatch=DispatchPolicy.model_validate(campaign.dispatch),
        selected_accounts=selected,
        created_at=campaign.created_at,
        launched_at=campaign.launched_at,
        paused_at=campaign.paused_at,
        ended_at=campaign.ended_at,
    )
