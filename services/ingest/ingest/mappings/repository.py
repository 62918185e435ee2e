"""SQL for saved column mappings."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.models import ColumnMapping


async def get_mapping(
    session: AsyncSession, *, tenant_id: uuid.UUID
) -> ColumnMapping | None:
    return await session.scalar(
        select(ColumnMapping).where(ColumnMapping.tenant_id == tenant_id)
    )


async def upsert_mapping(
    session: AsyncSession, *, tenant_id: uuid.UUID, mapping: dict[str, str]
) -> ColumnMapping:
    statement = pg_insert(ColumnMapping).values(tenant_id=tenant_id, mapping=mapping)
    statement = statement.on_conflict_do_update(
        index_elements=["tenant_id"],
        set_={"mapping": statement.excluded.mapping, "updated_at": func.now()},
    ).returning(ColumnMapping)
    stored = await session.scalar(
        statement, execution_options={"populate_existing": True}
    )
    assert stored is not None
    return stored
