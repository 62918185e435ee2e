from fastapi import APIRouter

from ingest.policies import repository
from ingest.policies.schemas import VisitPolicyIn, VisitPolicyOut
from shared.api import SessionDep, SettingsReader, SettingsWriter
from shared.errors import UnauthorizedError, problem_responses

router = APIRouter(prefix="/visit-policy", tags=["visit policy"])


@router.get(
    "",
    summary="The tenant's revisit delay, attempt limit and weekly visit limit",
    responses=problem_responses(UnauthorizedError),
)
async def get_visit_policy(
    tenant: SettingsReader, session: SessionDep
) -> VisitPolicyOut:
    async with session.begin():
        return await repository.get_policy(session, tenant.tenant_id)


@router.put(
    "",
    summary="Replace the tenant's visit policy; omitted fields take the defaults",
    responses=problem_responses(UnauthorizedError),
)
async def put_visit_policy(
    body: VisitPolicyIn, tenant: SettingsWriter, session: SessionDep
) -> VisitPolicyOut:
    async with session.begin():
        await repository.put_policy(session, tenant.tenant_id, body)
        return await repository.get_policy(session, tenant.tenant_id)
