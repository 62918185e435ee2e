from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, File, UploadFile, status

from ingest.dependencies import LocatorDep, SettingsDep
from ingest.uploads import service
from ingest.uploads.schemas import UploadOut
from shared.api import CurrentTenant, IdempotencyKey, RuntimeDep, SessionDep
from shared.errors import (
    NotFoundError,
    PayloadTooLargeError,
    UnauthorizedError,
    problem_responses,
)
from shared.idempotency import IdempotencyKeyReusedError

router = APIRouter(prefix="/uploads", tags=["uploads"])

# The uploads table keeps 300 characters; the end of a long name is kept,
# because it carries the extension and the most specific part.
MAX_FILENAME_CHARS = 300

UPLOAD_DESCRIPTION = """Upload a portfolio as XLSX, XLS or CSV (told apart by content).

The header row may sit below title rows. Recognised headers, case and accents
ignored: `No. de Crédito` (the account key), `Nombre del Titular`,
`Saldo Vencido`, `Días de Atraso`, `Calle`, `Núm. Ext.`, `Núm. Int.`,
`Colonia`, `C.P.`, `Alcaldía / Municipio`, `Estado`, `Teléfono`, `Latitud`,
`Longitud`. Other columns are kept on the account as extras. Accounts are
upserted by account key; valid rows are stored even when other rows fail,
and every failure comes back with its Excel row number. Rows without
coordinates are geocoded from their colonia, municipality and state; an
account that cannot be placed is stored with a `location` warning.
"""


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Upload a portfolio file",
    description=UPLOAD_DESCRIPTION,
    responses=problem_responses(
        UnauthorizedError,
        PayloadTooLargeError,
        service.UnreadableUploadError,
        IdempotencyKeyReusedError,
    ),
)
async def upload_portfolio(
    tenant: CurrentTenant,
    runtime: RuntimeDep,
    settings: SettingsDep,
    locator: LocatorDep,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="The portfolio file.")],
    idempotency_key: IdempotencyKey = None,
) -> UploadOut:
    limit = settings.max_upload_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLargeError(
            f"{file.filename} is larger than {limit} bytes; split the portfolio "
            "into several files"
        )
    return await service.process_upload(
        runtime,
        session,
        tenant_id=tenant.tenant_id,
        filename=(file.filename or "upload")[-MAX_FILENAME_CHARS:],
        content=content,
        max_rows=settings.max_upload_rows,
        locator=locator,
        idempotency_key=idempotency_key,
    )


@router.get(
    "/{upload_id}",
    summary="An upload's counts and row-by-row report",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def get_upload(
    upload_id: UUID, tenant: CurrentTenant, session: SessionDep
) -> UploadOut:
    return await service.get_upload(
        session, tenant_id=tenant.tenant_id, upload_id=upload_id
    )
