import uuid
from typing import Any

from sqlalchemy import or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.accounts.keys import key_in, key_matches
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
        assert account_key is not None
        query = query.where(key_matches(account_key))
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


async def find_accounts(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    account_keys: list[str],
    account_ids: list[uuid.UUID],
) -> list[Any]:
    """Return id, key and currency of the tenant's accounts named by key or id."""
    query = select(Account.account_id, Account.account_key, Account.currency).where(
        Account.tenant_id == tenant_id,
        or_(
            key_in(account_keys),
            Account.account_id.in_(account_ids),
        ),
    )
    return list((await session.execute(query)).all())


async def insert_payments(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> set[uuid.UUID]:
    """Insert the payments in one statement; return the ids actually inserted.

    A row whose reference is already on its account is skipped.
    """
    if not rows:
        return set()
    inserted = await session.execute(
        insert(Payment)
        .values(rows)
        .on_conflict_do_nothing(
            index_elements=[Payment.tenant_id, Payment.account_id, Payment.reference]
        )
        .returning(Payment.payment_id)
    )
    return set(inserted.scalars())


async def get_by_references(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    pairs: list[tuple[uuid.UUID, str]],
) -> dict[tuple[uuid.UUID, str], Payment]:
    """Return the stored payments for (account id, reference) pairs."""
    if not pairs:
        return {}
    found = await session.scalars(
        select(Payment).where(
            Payment.tenant_id == tenant_id,
            tuple_(Payment.account_id, Payment.reference).in_(pairs),
        )
    )
    return {(payment.account_id, payment.reference): payment for payment in found}
