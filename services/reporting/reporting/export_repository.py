"""SQL of campaign exports: the visit details' merge terms and the rows' query."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from reporting.export_models import VisitDetail
from reporting.models import Campaign, VisitFact

Excluded = Any

# SET LOCAL for both limits, in one round trip: set_config with `true` lasts
# until the transaction ends, so the pooled connection keeps no limit.
EXPORT_LIMITS = text(
    "SELECT set_config('statement_timeout', :statement, true), "
    "set_config('idle_in_transaction_session_timeout', :idle, true)"
)


def known_or_new(excluded: Excluded, name: str) -> ColumnElement[Any]:
    """Build a SET term that keeps the stored value and fills it only when null."""
    return func.coalesce(getattr(VisitDetail, name), excluded[name])


async def campaign_for_export(
    session: AsyncSession, tenant_id: uuid.UUID, campaign_id: uuid.UUID
) -> tuple[str, int] | None:
    """Return the campaign's name and visit count, or None for another tenant's."""
    name = await session.scalar(
        select(Campaign.name).where(
            Campaign.campaign_id == campaign_id, Campaign.tenant_id == tenant_id
        )
    )
    if name is None:
        return None
    visits = await session.scalar(
        select(func.count()).where(
            VisitFact.tenant_id == tenant_id, VisitFact.campaign_id == campaign_id
        )
    )
    return name, int(visits or 0)


def export_rows_query(tenant_id: uuid.UUID, campaign_id: uuid.UUID) -> Select[Any]:
    """Build the query of a campaign's visits, in request order, with details."""
    fact, detail = VisitFact, VisitDetail
    return (
        select(
            fact.visit_id,
            fact.state,
            fact.requested_at,
            fact.first_check_in_at,
            fact.completed_at,
            fact.person_met,
            fact.contact,
            fact.debtor_lives_there,
            fact.promise_amount,
            fact.promise_currency,
            fact.cancel_reason,
            detail.account_key,
            detail.debtor_name,
            detail.address,
            detail.address_zone,
            detail.address_lat,
            detail.address_lon,
            detail.agent_id,
            detail.check_in_lat,
            detail.check_in_lon,
            detail.check_in_distance_m,
            detail.check_in_accuracy_m,
            detail.check_in_verified,
            detail.result_code,
            detail.notes,
            detail.new_phone,
            detail.promise_due_date,
            detail.flagged,
            detail.photo_ids,
            detail.reported_phones,
        )
        .outerjoin(
            detail,
            (detail.visit_id == fact.visit_id) & (detail.tenant_id == fact.tenant_id),
        )
        .where(fact.tenant_id == tenant_id, fact.campaign_id == campaign_id)
        .order_by(fact.requested_at, fact.visit_id)
    )


async def limit_export(
    connection: AsyncConnection, *, statement_seconds: float, idle_seconds: float
) -> None:
    """Bound how long the export's open transaction may run and wait.

    The statement limit cancels a statement of the read that runs too long.
    The idle limit ends the connection of an export whose client stopped
    reading. So neither holds a connection and its locks for an hour.
    """
    await connection.execute(
        EXPORT_LIMITS,
        {
            "statement": _milliseconds(statement_seconds),
            "idle": _milliseconds(idle_seconds),
        },
    )


def _milliseconds(seconds: float) -> str:
    # Zero would turn the limit off, so the shortest limit is 1 ms.
    return f"{max(1, round(seconds * 1000))}ms"
