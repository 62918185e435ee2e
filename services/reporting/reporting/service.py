"""Campaign figures: counts come from SQL over the visit rows, rates from them."""

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reporting import repository
from reporting.breakdowns import figures_from_row
from reporting.models import Campaign
from reporting.schemas import (
    CampaignFigures,
    CampaignList,
    CampaignSummary,
    CurrencyAmount,
    Percentiles,
)
from shared.errors import NotFoundError

# TenantCreated's own default, for a tenant whose event has not arrived yet.
FALLBACK_CURRENCY = "MXN"
ZERO = Decimal("0.00")

COUNT_FIELDS = (
    "visits_requested",
    "visits_assigned",
    "visits_checked_in",
    "visits_completed",
    "visits_out_of_coverage",
    "visits_expired",
    "visits_cancelled",
    "visits_final",
    "visits_open",
    "promises",
)
# Figures the summary shares with the breakdowns, computed the same way.
BREAKDOWN_FIELDS = (
    "visits_visited",
    "visits_rejected",
    "visits_flagged",
    "promises_kept",
    "promises_partly_kept",
    "promises_broken",
    "kept_amount",
    "within_deadline_rate",
)


def rate(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


def _figures(
    campaign_id: uuid.UUID, campaign: Campaign | None, row: Any, currency: str
) -> dict[str, Any]:
    counts = {name: int(getattr(row, name, 0) or 0) for name in COUNT_FIELDS}
    breakdown = figures_from_row(row, currency)
    completed = counts["visits_completed"]
    contacts = int(getattr(row, "contacts", 0) or 0)
    return {
        "campaign_id": campaign_id,
        "name": campaign.name if campaign else None,
        "launched_at": campaign.launched_at if campaign else None,
        "deadline": campaign.deadline if campaign else None,
        "accounts": campaign.account_count if campaign else None,
        "accounts_excluded": campaign.excluded_count if campaign else None,
        **counts,
        "contact_rate": rate(contacts, completed),
        "located_rate": rate(int(getattr(row, "located", 0) or 0), completed),
        "promise_rate": rate(
            int(getattr(row, "promises_with_contact", 0) or 0), contacts
        ),
        "promised_amount": getattr(row, "promised_amount", None) or ZERO,
        "currency": currency,
        "visited_within_72h_rate": rate(
            int(getattr(row, "visited_within_window", 0) or 0),
            int(getattr(row, "in_coverage", 0) or 0),
        ),
        **{name: breakdown[name] for name in BREAKDOWN_FIELDS},
        "accounts_visited": breakdown["accounts"],
    }


def _percentiles(row: Any, name: str) -> Percentiles:
    return Percentiles(
        p50=_seconds(getattr(row, f"{name}_p50", None)),
        p90=_seconds(getattr(row, f"{name}_p90", None)),
    )


async def _currency(session: AsyncSession, tenant_id: uuid.UUID) -> str:
    return await repository.tenant_currency(session, tenant_id) or FALLBACK_CURRENCY


async def campaign_summary(
    session: AsyncSession, tenant_id: uuid.UUID, campaign_id: uuid.UUID
) -> CampaignSummary:
    """Compute a campaign's figures; 404 when the tenant has no such campaign.

    A campaign whose visits arrived before its launch event is reported with
    a null name and null account counts.
    """
    async with session.begin():
        campaign = await repository.get_campaign(session, tenant_id, campaign_id)
        currency = await _currency(session, tenant_id)
        rows = await repository.campaign_figures(
            session, tenant_id, [campaign_id], currency
        )
        row = rows.get(campaign_id)
        if campaign is None and row is None:
            raise NotFoundError(
                f"campaign {campaign_id} not found; list yours with GET /campaigns"
            )
        by_currency = await repository.promised_by_currency(
            session, tenant_id, campaign_id
        )
    return CampaignSummary(
        **_figures(campaign_id, campaign, row, currency),
        time_to_assignment_seconds=_percentiles(row, "time_to_assignment"),
        time_to_first_visit_seconds=_percentiles(row, "time_to_first_visit"),
        time_to_result_seconds=_percentiles(row, "time_to_result"),
        promised_by_currency=[
            CurrencyAmount(currency=code, amount=amount) for code, amount in by_currency
        ],
    )


async def list_campaigns(
    session: AsyncSession, tenant_id: uuid.UUID, *, limit: int, offset: int
) -> CampaignList:
    async with session.begin():
        campaigns = await repository.list_campaigns(
            session, tenant_id, limit=limit, offset=offset
        )
        currency = await _currency(session, tenant_id)
        ids = [campaign.campaign_id for campaign in campaigns]
        rows = await repository.campaign_figures(session, tenant_id, ids, currency)
        accounts = await repository.count_accounts(session, tenant_id)
    items = [
        CampaignFigures(
            **_figures(
                campaign.campaign_id,
                campaign,
                rows.get(campaign.campaign_id),
                currency,
            )
        )
        for campaign in campaigns
    ]
    return CampaignList(
        portfolio_accounts=accounts, campaigns=items, limit=limit, offset=offset
    )
