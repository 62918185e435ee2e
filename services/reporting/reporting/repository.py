"""SQL of the read models, the figures and the stream log."""

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Row, case, func, null, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.figure_columns import completed, figure_columns
from reporting.models import (
    Account,
    Campaign,
    StreamEvent,
    TenantStreamCounter,
    VisitFact,
    common,
)

Excluded = Any
SetClause = Callable[[Excluded], dict[str, ColumnElement[Any]]]


async def upsert_campaign(session: AsyncSession, values: dict[str, Any]) -> None:
    statement = insert(Campaign).values(**values)
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Campaign.campaign_id],
            set_={name: excluded[name] for name in values if name != "campaign_id"},
            where=Campaign.tenant_id == excluded.tenant_id,
        )
    )


async def insert_account(
    session: AsyncSession, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> None:
    await session.execute(
        insert(Account)
        .values(tenant_id=tenant_id, account_id=account_id)
        .on_conflict_do_nothing()
    )


async def upsert_visit_fact(
    session: AsyncSession, values: dict[str, Any], set_clause: SetClause
) -> None:
    """Insert a visit's row or update the columns that `set_clause` names.

    The update never touches a row of another tenant, whatever the visit id.
    """
    await upsert_visit_rows(session, VisitFact, [values], set_clause)


async def upsert_visit_rows(
    session: AsyncSession,
    table: Any,
    rows: Sequence[dict[str, Any]],
    set_clause: SetClause,
) -> None:
    """Upsert rows keyed by visit id into `table` in one execute call.

    The rows must have the same columns and distinct visit ids, because
    PostgreSQL rejects a statement that updates one row twice. An update
    never touches a row of another tenant, whatever the visit id.
    """
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.visit_id],
        set_=set_clause(statement.excluded),
        where=table.tenant_id == statement.excluded.tenant_id,
    )
    # Rows as parameters: SQLAlchemy compiles the statement once and caches
    # it. Rows given to .values() would make a new statement to compile each time.
    await session.execute(statement, list(rows))


@dataclass(frozen=True)
class VisitUpsert:
    """One event type's write to a table keyed by visit id.

    `row` builds the event's row (None when the event writes nothing) and
    `set_clause` the SET terms that merge it into a stored row. Calling it
    applies one event, and the batch path upserts many rows of one type at
    once with `upsert_visit_rows`.
    """

    table: Any
    row: Callable[[Any], dict[str, Any] | None]
    set_clause: SetClause

    async def __call__(self, session: AsyncSession, payload: Any) -> None:
        row = self.row(payload)
        if row is not None:
            await upsert_visit_rows(session, self.table, [row], self.set_clause)


def keep_known(excluded: Excluded, name: str) -> ColumnElement[Any]:
    """Build a SET term that keeps the stored value and fills it only when null."""
    return func.coalesce(getattr(VisitFact, name), excluded[name])


def keep_earliest(excluded: Excluded, name: str) -> ColumnElement[Any]:
    """Build a SET term that keeps the earlier of the stored and the new time."""
    # LEAST ignores nulls, so a null on either side keeps the other time.
    return func.least(getattr(VisitFact, name), excluded[name])


def cleared_before(column: Any, moment: datetime) -> ColumnElement[Any]:
    """Build a SET term that clears a time up to `moment` and keeps a later one."""
    return case((column <= moment, null()), else_=column)


async def next_stream_seq(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """Take the tenant's next stream sequence number in the caller's transaction.

    The upsert locks the tenant's counter row until the transaction ends, so
    writers of one tenant run one after the other. A writer's seq becomes
    visible only after every smaller seq of that tenant has committed, and a
    rollback also undoes its increment. So a reader that has seen seq N
    never misses a seq <= N that commits later.
    """
    statement = insert(TenantStreamCounter).values(tenant_id=tenant_id, last_seq=1)
    statement = statement.on_conflict_do_update(
        index_elements=[TenantStreamCounter.tenant_id],
        set_={"last_seq": TenantStreamCounter.last_seq + 1},
    ).returning(TenantStreamCounter.last_seq)
    return int((await session.execute(statement)).scalar_one())


async def insert_stream_event(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(StreamEvent).values(**values))


async def reserve_stream_seqs(
    session: AsyncSession, counts: Mapping[uuid.UUID, int]
) -> dict[uuid.UUID, int]:
    """Take `counts[tenant]` sequence numbers per tenant in one statement.

    Returns each tenant's last number taken: the tenant's numbers run from
    `last - count + 1` to `last`. The counter rows stay locked until the
    transaction ends, as in `next_stream_seq`. They are locked in tenant id
    order, so two batches never wait on each other in a cycle.
    """
    if not counts:
        return {}
    statement = insert(TenantStreamCounter)
    statement = statement.on_conflict_do_update(
        index_elements=[TenantStreamCounter.tenant_id],
        set_={"last_seq": TenantStreamCounter.last_seq + statement.excluded.last_seq},
    ).returning(TenantStreamCounter.tenant_id, TenantStreamCounter.last_seq)
    counter_rows = [
        {"tenant_id": tenant_id, "last_seq": counts[tenant_id]}
        for tenant_id in sorted(counts)
    ]
    rows = (await session.execute(statement, counter_rows)).all()
    return {row.tenant_id: int(row.last_seq) for row in rows}


async def insert_stream_events(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> None:
    if rows:
        await session.execute(insert(StreamEvent), list(rows))


async def latest_stream_seq(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    last = await session.scalar(
        select(TenantStreamCounter.last_seq).where(
            TenantStreamCounter.tenant_id == tenant_id
        )
    )
    return int(last or 0)


async def stream_events_after(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    after_seq: int,
    campaign_id: uuid.UUID | None,
    event_types: Sequence[str] | None,
    limit: int,
) -> Sequence[StreamEvent]:
    query = select(StreamEvent).where(
        StreamEvent.tenant_id == tenant_id, StreamEvent.seq > after_seq
    )
    if campaign_id is not None:
        query = query.where(StreamEvent.campaign_id == campaign_id)
    if event_types:
        query = query.where(StreamEvent.event_type.in_(event_types))
    rows = await session.scalars(query.order_by(StreamEvent.seq).limit(limit))
    return rows.all()


async def tenant_currency(session: AsyncSession, tenant_id: uuid.UUID) -> str | None:
    tenants = common.tenants
    return await session.scalar(
        select(tenants.c.currency).where(tenants.c.tenant_id == tenant_id)
    )


async def count_accounts(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count(func.distinct(Account.account_id))).where(
            Account.tenant_id == tenant_id
        )
    )
    return int(count or 0)


async def get_campaign(
    session: AsyncSession, tenant_id: uuid.UUID, campaign_id: uuid.UUID
) -> Campaign | None:
    return await session.scalar(
        select(Campaign).where(
            Campaign.tenant_id == tenant_id, Campaign.campaign_id == campaign_id
        )
    )


async def list_campaigns(
    session: AsyncSession, tenant_id: uuid.UUID, *, limit: int, offset: int
) -> Sequence[Campaign]:
    rows = await session.scalars(
        select(Campaign)
        .where(Campaign.tenant_id == tenant_id)
        .order_by(Campaign.launched_at.desc(), Campaign.campaign_id)
        .limit(limit)
        .offset(offset)
    )
    return rows.all()


async def campaign_figures(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    campaign_ids: Sequence[uuid.UUID],
    currency: str,
) -> dict[uuid.UUID, Row[Any]]:
    """Compute the figures of each campaign from its visit rows, by campaign id."""
    query = (
        select(VisitFact.campaign_id, *figure_columns(currency))
        .where(
            VisitFact.tenant_id == tenant_id, VisitFact.campaign_id.in_(campaign_ids)
        )
        .group_by(VisitFact.campaign_id)
    )
    rows = (await session.execute(query)).all()
    return {row.campaign_id: row for row in rows}


async def promised_by_currency(
    session: AsyncSession, tenant_id: uuid.UUID, campaign_id: uuid.UUID
) -> list[tuple[str, Decimal]]:
    rows = await session.execute(
        select(VisitFact.promise_currency, func.sum(VisitFact.promise_amount))
        .where(
            VisitFact.tenant_id == tenant_id,
            VisitFact.campaign_id == campaign_id,
            completed,
            VisitFact.promise_amount.is_not(None),
        )
        .group_by(VisitFact.promise_currency)
        .order_by(VisitFact.promise_currency)
    )
    return [(currency, amount) for currency, amount in rows.all()]
