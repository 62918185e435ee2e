"""SQL for the login lockout: one `ingest.login_failures` row per pair."""

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.models import LoginFailure


async def load(session: AsyncSession, key: str) -> LoginFailure | None:
    return await session.scalar(
        select(LoginFailure).where(LoginFailure.pair_key == key)
    )


async def load_for_update(
    session: AsyncSession, key: str, *, now: datetime
) -> LoginFailure:
    """Return the pair's row, locked until the transaction ends.

    A first failure inserts an empty row to lock: two processes that both
    found no row would otherwise each count only their own failure.
    """
    await session.execute(
        insert(LoginFailure)
        .values(pair_key=key, failures=[], locks=0, last_failure=now)
        .on_conflict_do_nothing(index_elements=[LoginFailure.pair_key])
    )
    row = await session.scalar(
        select(LoginFailure)
        .where(LoginFailure.pair_key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def save(
    session: AsyncSession,
    key: str,
    *,
    failures: list[datetime],
    locks: int,
    locked_until: datetime | None,
    last_failure: datetime | None,
) -> None:
    await session.execute(
        update(LoginFailure)
        .where(LoginFailure.pair_key == key)
        .values(
            failures=failures,
            locks=locks,
            locked_until=locked_until,
            last_failure=last_failure,
        )
    )


async def delete_pair(session: AsyncSession, key: str) -> None:
    await session.execute(delete(LoginFailure).where(LoginFailure.pair_key == key))


async def forget_idle(session: AsyncSession, *, before: datetime) -> None:
    """Drop the pairs with no failure since `before`; their locks have ended."""
    await session.execute(
        delete(LoginFailure).where(LoginFailure.last_failure < before)
    )
