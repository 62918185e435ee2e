from fastapi import APIRouter

from ingest.mappings import service
from ingest.mappings.schemas import ColumnMappingIn, ColumnMappingOut
from shared.api import SessionDep, SettingsReader, SettingsWriter
from shared.errors import UnauthorizedError, problem_responses

router = APIRouter(prefix="/column-mappings", tags=["column mappings"])


@router.get(
    "",
    summary="The tenant's saved column mapping",
    responses=problem_responses(UnauthorizedError),
)
async def get_column_mapping(
    tenant: SettingsReader, session: SessionDep
) -> ColumnMappingOut:
    return await service.get_mapping(session, tenant_id=tenant.tenant_id)


@router.put(
    "",
    summary="Replace the tenant's saved column mapping",
    description=(
        "Headers are matched with case and accents ignored. Every upload uses "
        "this mapping unless its own `mapping` field names the header or field."
    ),
    responses=problem_responses(UnauthorizedError, service.InvalidMappingError),
)
async def put_column_mapping(
    body: ColumnMappingIn, tenant: SettingsWriter, session: SessionDep
) -> ColumnMappingOut:
    return await service.put_mapping(
        session, tenant_id=tenant.tenant_id, mapping=body.mapping
    )
