import uuid
from typing import Any

from geoalchemy2.functions import ST_X, ST_Y
from geoalchemy2.types import Geometry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.models import Account


def _with_coordinates() -> Any:
    geometry = func.cast(Account.location, Geometry)
    return select(Account, ST_Y(geometry).label("lat"), ST_X(geometry).label("lon"))


async def page_accounts(
    session: AsyncSession, *, tenant_id: uuid.UUID, limit: int, offset: int
) -> tuple[int, list[Any]]:
    total = await session.scalar(
        select(func.count()).select_from(Account).where(Account.tenant_id == tenant_id)
    )
    rows = await session.execute(
        _with_coordinates()
        .where(Account.tenant_id == tenant_id)
        .order_by(Account.account_key)
        .limit(limit)
        .offset(offset)
    )
    return total or 0, list(rows)


async def get_account(
    session: AsyncSession, *, tenant_id: uuid.UUID, account_key: str
) -> Any | None:
    rows = await session.execute(
        _with_coordinates().where(
            Account.tenant_id == tenant_id, Account.account_key == account_key
        )
    )
    return rows.first()
