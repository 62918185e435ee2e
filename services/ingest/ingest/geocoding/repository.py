"""SQL for the geocode cache."""

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.models import GeocodeCacheEntry


async def cached_entries(
    session: AsyncSession, *, provider: str, query_keys: Iterable[str]
) -> dict[str, GeocodeCacheEntry]:
    keys = list(set(query_keys))
    if not keys:
        return {}
    rows = await session.scalars(
        select(GeocodeCacheEntry).where(
            GeocodeCacheEntry.provider == provider,
            GeocodeCacheEntry.query_key.in_(keys),
        )
    )
    return {entry.query_key: entry for entry in rows}


async def store_entries(
    session: AsyncSession, entries: list[dict[str, object]]
) -> None:
    """Insert cache entries; one already stored by a concurrent upload is kept."""
    if not entries:
        return
    await session.execute(
        pg_insert(GeocodeCacheEntry).values(entries).on_conflict_do_nothing()
    )
