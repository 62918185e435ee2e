"""SQL of the agent earnings ledger: insert-only movements and the reads over them."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Row,
    and_,
    distinct,
    exists,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from visits.models import AgentEarning, Visit
from visits.states import VisitState

EARNED = "earned"
REVERSED = "reversed"
PENDING = "pending"


def _earned_once(visit_id: Any) -> ColumnElement[bool]:
    return exists().where(
        AgentEarning.visit_id == visit_id, AgentEarning.kind == EARNED
    )


async def lock_earnable(
    session: AsyncSession, *, completed_before: datetime, limit: int
) -> Sequence[Row[Any]]:
    """Lock completed, never earned visits whose window has closed.

    A rejected visit is left out by its state, and an overturned one by the
    earned row its resolution wrote.

    FOR UPDATE makes a rejection of the same visit wait for this transaction,
    so the rejection then reads the earned row and reverses it. SKIP LOCKED
    leaves a visit that a rejection holds for the next pass, which will find
    it rejected.

    NOTE: the anti-join reads every completed visit ever earned, on each
    pass. Past some millions of visits, a watermark on `completed_at` or a
    partial index over the unearned ones would keep the pass short.
    """
    statement = (
        select(
            Visit.visit_id,
            Visit.agent_id,
            Visit.tenant_id,
            Visit.attempt,
            Visit.fee_amount,
            Visit.fee_currency,
            Visit.completed_at,
        )
        .where(
            Visit.state == VisitState.COMPLETED.value,
            Visit.completed_at <= completed_before,
            Visit.agent_id.is_not(None),
            ~_earned_once(Visit.visit_id),
        )
        .order_by(Visit.completed_at)
        .limit(limit)
        .with_for_update(of=Visit, skip_locked=True)
    )
    return (await session.execute(statement)).all()


async def lock_visit_fee(session: AsyncSession, visit_id: UUID) -> Row[Any]:
    statement = (
        select(
            Visit.visit_id,
            Visit.agent_id,
            Visit.tenant_id,
            Visit.attempt,
            Visit.fee_amount,
            Visit.fee_currency,
        )
        .where(Visit.visit_id == visit_id)
        .with_for_update()
    )
    return (await session.execute(statement)).one()


async def insert_movements(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> Sequence[AgentEarning]:
    """Insert the movements not written before and return the new ones."""
    if not rows:
        return []
    statement = (
        pg_insert(AgentEarning)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["visit_id", "kind", "reason"])
        .returning(AgentEarning)
    )
    return (await session.scalars(statement)).all()


async def fee_is_earned(session: AsyncSession, visit_id: UUID) -> bool:
    """Return whether the visit's fee is earned: more earned rows than reversals.

    Counted, not summed, so that a fee of zero is earned or reversed once too.
    """
    earned = func.count().filter(AgentEarning.kind == EARNED)
    reversed_ = func.count().filter(AgentEarning.kind == REVERSED)
    statement = select(earned > reversed_).where(AgentEarning.visit_id == visit_id)
    return bool(await session.scalar(statement))


async def tenant_had_agent(
    session: AsyncSession, *, tenant_id: UUID, agent_id: UUID
) -> bool:
    statement = select(
        exists().where(Visit.tenant_id == tenant_id, Visit.agent_id == agent_id)
    )
    return bool(await session.scalar(statement))


def _movement_filter(
    agent_id: UUID, tenant_id: UUID | None, start: datetime, end: datetime
) -> ColumnElement[bool]:
    clauses = [
        AgentEarning.agent_id == agent_id,
        AgentEarning.occurred_at >= start,
        AgentEarning.occurred_at < end,
    ]
    if tenant_id is not None:
        clauses.append(AgentEarning.tenant_id == tenant_id)
    return and_(*clauses)


def _pending_filter(
    agent_id: UUID, tenant_id: UUID | None, start: datetime, end: datetime
) -> ColumnElement[bool]:
    clauses = [
        Visit.agent_id == agent_id,
        Visit.state == VisitState.COMPLETED.value,
        Visit.completed_at >= start,
        Visit.completed_at < end,
        ~_earned_once(Visit.visit_id),
    ]
    if tenant_id is not None:
        clauses.append(Visit.tenant_id == tenant_id)
    return and_(*clauses)


async def totals_by_currency(
    session: AsyncSession,
    *,
    agent_id: UUID,
    tenant_id: UUID | None,
    start: datetime,
    end: datetime,
) -> Sequence[Row[Any]]:
    """Sum the period's pending fees, earned and reversed movements per currency."""
    movements = select(
        AgentEarning.visit_id.label("visit_id"),
        AgentEarning.currency.label("currency"),
        AgentEarning.kind.label("kind"),
        AgentEarning.amount.label("amount"),
    ).where(_movement_filter(agent_id, tenant_id, start, end))
    pending = select(
        Visit.visit_id.label("visit_id"),
        Visit.fee_currency.label("currency"),
        literal(PENDING).label("kind"),
        Visit.fee_amount.label("amount"),
    ).where(_pending_filter(agent_id, tenant_id, start, end))
    both = union_all(movements, pending).subquery()

    def total(kind: str) -> ColumnElement[Any]:
        summed = func.sum(both.c.amount).filter(both.c.kind == kind)
        return func.coalesce(summed, 0).label(kind)

    statement = (
        select(
            both.c.currency,
            total(PENDING),
            total(EARNED),
            total(REVERSED),
            func.count(distinct(both.c.visit_id)).label("visit_count"),
        )
        .group_by(both.c.currency)
        .order_by(both.c.currency)
    )
    return (await session.execute(statement)).all()


async def movements_page(
    session: AsyncSession,
    *,
    agent_id: UUID,
    tenant_id: UUID | None,
    start: datetime,
    end: datetime,
    limit: int,
    offset: int,
) -> tuple[Sequence[AgentEarning], int]:
    """Return one page of the period's movements, newest first, and their count."""
    where = _movement_filter(agent_id, tenant_id, start, end)
    total = await session.scalar(select(func.count()).where(where))
    statement = (
        select(AgentEarning)
        .where(where)
        .order_by(AgentEarning.occurred_at.desc(), AgentEarning.movement_id)
        .limit(limit)
        .offset(offset)
    )
    return (await session.scalars(statement)).all(), int(total or 0)
