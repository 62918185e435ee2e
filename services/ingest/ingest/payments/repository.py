import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.models import Account, Payment


async def find_account(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    account_key: str | None,
    account_id: uuid.UUID | None,
) -> Any | None:
    query = select(Account.account_id, Account.account_key, Account.currency).where(
        Account.tenant_id == tenant_id
    )
    if account_id is not None:
        query = query.where(Account.account_id == account_id)
    else:
        query = query.where(Account.account_key == account_key)
    return (await session.execute(query)).first()


async def insert_payment(session: AsyncSession, **values: Any) -> bool:
    """Insert the payment; False when its reference is already on the account."""
    inserted = await session.execute(
        insert(Payment)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=[Payment.tenant_id, Payment.account_id, Payment.reference]
        )
        .returning(Payment.payment_id)
    )
    return inserted.first() is not None


async def get_by_reference(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    reference: str,
) -> Payment | None:
    return await session.scalar(
        select(Payment).where(
            Payment.tenant_id == tenant_id,
            Payment.account_id == account_id,
            Payment.reference == reference,
        )
    )
