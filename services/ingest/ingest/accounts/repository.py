import uuid
from collections.abc import Sequence
from typing import Any

from geoalchemy2.functions import ST_X, ST_Y
from geoalchemy2.types import Geography, Geometry
from sqlalchemy import ColumnElement, cast, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.accounts.keys import key_matches
from ingest.models import Account, AccountHistory


def _with_coordinates() -> Any:
    geometry = func.cast(Account.location, Geometry)
    return select(Account, ST_Y(geometry).label("lat"), ST_X(geometry).label("lon"))


def _reference(account_ref: str) -> ColumnElement[bool]:
    """Match an account by its key, or by its id when the text is a UUID."""
    try:
        account_id = uuid.UUID(account_ref)
    except ValueError:
        return key_matches(account_ref)
    return or_(Account.account_id == account_id, key_matches(account_ref))


async def page_accounts(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    limit: int,
    offset: int,
    conditions: Sequence[ColumnElement[bool]] = (),
) -> tuple[int, list[Any]]:
    """Count the matching accounts and return one page of them, by account key."""
    scope = [Account.tenant_id == tenant_id, *conditions]
    total = await session.scalar(
        select(func.count()).select_from(Account).where(*scope)
    )
    rows = await session.execute(
        _with_coordinates()
        .where(*scope)
        # The key is unique per tenant, so pages neither repeat nor skip rows.
        .order_by(Account.account_key, Account.account_id)
        .limit(limit)
        .offset(offset)
    )
    return total or 0, list(rows)


async def get_account(
    session: AsyncSession, *, tenant_id: uuid.UUID, account_ref: str
) -> Any | None:
    rows = await session.execute(
        _with_coordinates()
        .where(Account.tenant_id == tenant_id, _reference(account_ref))
        .order_by((Account.account_key == account_ref).desc())
        .limit(1)
    )
    return rows.first()


async def lock_account_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, account_ref: str
) -> uuid.UUID | None:
    """Lock the account row so flag changes and withdrawals apply one at a time."""
    return await session.scalar(
        select(Account.account_id)
        .where(Account.tenant_id == tenant_id, _reference(account_ref))
        .limit(1)
        .with_for_update()
    )


async def update_account(
    session: AsyncSession, account_id: uuid.UUID, values: dict[str, Any]
) -> None:
    await session.execute(
        update(Account)
        .where(Account.account_id == account_id)
        .values(**values, updated_at=func.now())
    )


async def mark_recalled(session: AsyncSession, account_id: uuid.UUID) -> None:
    await session.execute(
        update(Account)
        .where(Account.account_id == account_id)
        .values(
            recalled_at=func.coalesce(Account.recalled_at, func.now()),
            updated_at=func.now(),
        )
    )


async def account_history(
    session: AsyncSession, *, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> list[AccountHistory]:
    """Return the changes uploads made to one account, oldest first."""
    result = await session.scalars(
        select(AccountHistory)
        .where(
            AccountHistory.tenant_id == tenant_id,
            AccountHistory.account_id == account_id,
        )
        .order_by(AccountHistory.id)
    )
    return list(result)


async def lock_located_account(
    session: AsyncSession, *, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> Any | None:
    """Lock the account and return it with its coordinates, or None."""
    rows = await session.execute(
        _with_coordinates()
        .where(Account.tenant_id == tenant_id, Account.account_id == account_id)
        .with_for_update(of=Account)
    )
    return rows.first()


def point(lat: float, lon: float) -> ColumnElement[Any]:
    return cast(
        func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326), Geography(srid=4326)
    )


async def insert_history(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    changes: dict[str, Any],
) -> None:
    """Record a change that no upload made; its `upload_id` stays empty."""
    await session.execute(
        insert(AccountHistory).values(
            tenant_id=tenant_id, account_id=account_id, changes=changes
        )
    )
