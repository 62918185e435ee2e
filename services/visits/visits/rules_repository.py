"""SQL for the tenant's result codes and visit rules, and the weekly count."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, Row, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from visits.models import CheckIn, TenantResultCode, TenantVisitRules, Visit


async def tenant_codes(
    session: AsyncSession, tenant_id: UUID
) -> list[TenantResultCode]:
    statement = (
        select(TenantResultCode)
        .where(TenantResultCode.tenant_id == tenant_id)
        .order_by(TenantResultCode.category, TenantResultCode.code)
    )
    return list((await session.scalars(statement)).all())


async def tenant_code(
    session: AsyncSession, tenant_id: UUID, code: str
) -> TenantResultCode | None:
    return await session.get(TenantResultCode, (tenant_id, code))


async def insert_tenant_code(session: AsyncSession, **values: Any) -> bool:
    """Insert a tenant's code; return False when the tenant already has it."""
    statement = (
        pg_insert(TenantResultCode)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(TenantResultCode.code)
    )
    return (await session.execute(statement)).first() is not None


async def visit_rules(
    session: AsyncSession, tenant_id: UUID
) -> TenantVisitRules | None:
    return await session.get(TenantVisitRules, tenant_id)


async def lock_visit_rules(session: AsyncSession, tenant_id: UUID) -> Row[Any]:
    """Return the tenant's rules locked until commit, stored with defaults if new.

    Two patches of one tenant then apply one after the other, each to the
    rules the other left, even when the tenant had no row yet. The rules come
    back as a row, not an entity, so that the session's copy of the entity
    is the one `save_visit_rules` returns afterwards.
    """
    await session.execute(
        pg_insert(TenantVisitRules)
        .values(tenant_id=tenant_id)
        .on_conflict_do_nothing(index_elements=[TenantVisitRules.tenant_id])
    )
    statement = (
        select(
            TenantVisitRules.max_visits_per_account_week,
            TenantVisitRules.promise_grace_days,
        )
        .where(TenantVisitRules.tenant_id == tenant_id)
        .with_for_update()
    )
    return (await session.execute(statement)).one()


async def save_visit_rules(
    session: AsyncSession,
    tenant_id: UUID,
    *,
    max_visits_per_account_week: int | None,
    promise_grace_days: int,
) -> TenantVisitRules:
    statement = (
        pg_insert(TenantVisitRules)
        .values(
            tenant_id=tenant_id,
            max_visits_per_account_week=max_visits_per_account_week,
            promise_grace_days=promise_grace_days,
        )
        .on_conflict_do_update(
            index_elements=[TenantVisitRules.tenant_id],
            set_={
                "max_visits_per_account_week": max_visits_per_account_week,
                "promise_grace_days": promise_grace_days,
                "updated_at": func.now(),
            },
        )
        .returning(TenantVisitRules)
    )
    return (await session.scalars(statement)).one()


async def account_visit_times(
    session: AsyncSession,
    *,
    tenant_id: UUID,
    account_id: UUID,
    since: datetime,
    except_visit_id: UUID,
) -> list[datetime]:
    """Return the first check-in device time of each other visit of the account.

    Only visits whose first check-in falls at or after `since` are returned,
    oldest first.
    """
    parameters = {
        "target_tenant_id": tenant_id,
        "target_account_id": account_id,
        "since": since,
        "except_visit_id": except_visit_id,
    }
    return list((await session.scalars(ACCOUNT_VISIT_TIMES, parameters)).all())


def _account_visit_times_statement() -> Any:
    check_ins, visits = CheckIn.__table__, Visit.__table__
    first = func.min(check_ins.c.device_time)
    return (
        select(first)
        .join(visits, visits.c.visit_id == check_ins.c.visit_id)
        .where(
            visits.c.tenant_id == bindparam("target_tenant_id"),
            visits.c.account_id == bindparam("target_account_id"),
            visits.c.visit_id != bindparam("except_visit_id"),
        )
        .group_by(check_ins.c.visit_id)
        .having(first >= bindparam("since", type_=DateTime(timezone=True)))
        .order_by(first)
    )


# Runs on every first check-in under a weekly limit. Built once, on the
# tables, so neither SQLAlchemy's statement building nor the ORM runs per call.
ACCOUNT_VISIT_TIMES = _account_visit_times_statement()
