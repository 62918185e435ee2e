import uuid

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.models import VisitPolicy
from ingest.policies.schemas import VisitPolicyIn, VisitPolicyOut


async def get_policy(session: AsyncSession, tenant_id: uuid.UUID) -> VisitPolicyOut:
    """Return the tenant's visit policy, or the defaults when it has none."""
    stored = await session.get(VisitPolicy, tenant_id)
    if stored is None:
        return VisitPolicyOut()
    return VisitPolicyOut.model_validate(stored, from_attributes=True)


async def put_policy(
    session: AsyncSession, tenant_id: uuid.UUID, policy: VisitPolicyIn
) -> None:
    values = policy.model_dump()
    await session.execute(
        insert(VisitPolicy)
        .values(tenant_id=tenant_id, **values)
        .on_conflict_do_update(
            index_elements=[VisitPolicy.tenant_id],
            set_={**values, "updated_at": func.now()},
        )
    )
