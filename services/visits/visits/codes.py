"""The result codes a tenant may use: the standard catalogue and its own."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import ConflictError
from visits import rules_repository
from visits.models import TenantResultCode
from visits.result_codes import STANDARD_BY_CODE, STANDARD_CODES, Category, ResultCode
from visits.rules_schemas import ResultCodeIn


def from_row(row: TenantResultCode) -> ResultCode:
    return ResultCode(
        code=row.code,
        category=Category(row.category),
        label_es=row.label_es,
        label_en=row.label_en,
        worked=row.worked,
        promise=row.promise,
        debtor_gone=row.debtor_gone,
        revisit=row.revisit,
        billable=row.billable,
        agent_paid=row.agent_paid,
    )


async def find_code(
    session: AsyncSession, tenant_id: UUID, code: str
) -> ResultCode | None:
    standard = STANDARD_BY_CODE.get(code)
    if standard is not None:
        return standard
    row = await rules_repository.tenant_code(session, tenant_id, code)
    return from_row(row) if row is not None else None


async def list_codes(
    session: AsyncSession, tenant_id: UUID
) -> tuple[list[ResultCode], list[ResultCode]]:
    """Return the standard codes and the tenant's own, each in catalogue order."""
    async with session.begin():
        rows = await rules_repository.tenant_codes(session, tenant_id)
    return list(STANDARD_CODES), [from_row(row) for row in rows]


async def add_code(
    session: AsyncSession, tenant_id: UUID, request: ResultCodeIn
) -> ResultCode:
    """Add a tenant code; 409 when the id is standard or the tenant has it."""
    if request.code in STANDARD_BY_CODE:
        raise ConflictError(
            f"result code {request.code!r} is a standard code; choose another id "
            "for the tenant's own code"
        )
    values = request.model_dump()
    async with session.begin():
        inserted = await rules_repository.insert_tenant_code(
            session, tenant_id=tenant_id, **values
        )
    if not inserted:
        raise ConflictError(
            f"this tenant already has result code {request.code!r}; codes cannot "
            "be changed once results may carry them, so choose another id"
        )
    return ResultCode(**{**values, "category": Category(request.category)})
