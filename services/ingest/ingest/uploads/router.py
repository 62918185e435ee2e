from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, File, Form, UploadFile, status

from ingest.dependencies import LocatorDep, SettingsDep
from ingest.mappings.service import InvalidMappingError, parse_mapping_field
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

**Layout.** The header row is found among the first 20 rows, below any title
rows, merged title cells or blank rows. Totals rows (`Total`, `TOTAL
GENERAL`, a row with only sums) are skipped and listed in `skipped_rows`.
Blank rows amid the data are passed over and the rows below them are read;
`notices` says where they were. A repeated header is kept apart: a second
`Teléfono` becomes the extra attribute `telefono_2`, listed in
`renamed_duplicate_columns`.

**Headers,** case, accents and punctuation ignored: the client's account id
(`Cuenta`, `NUM_CUENTA`, `Número de cliente`, `ID Cliente`), the credit
number (`No. de Crédito`, `Crédito`, `Contrato`), `Nombre` or `Nombre del
Titular`, `Saldo` or `Saldo Vencido`, `Días de Atraso`, `Calle`, `Núm.
Ext.`, `Núm. Int.`, `Colonia`, `CP` or `Código Postal`, `Alcaldía /
Municipio`, `Estado`, `Entre calles`, `Referencias`, `Teléfono`, `Tel` or
`Celular`, `Latitud`, `Longitud`, `Fecha último pago`, `Fecha de
nacimiento`. When a file has both an account id and a credit number, the
account id is the account key and both are stored. Other columns are kept
on the account as extras.

**Mapping.** The optional `mapping` field is a JSON object of header (as in
the file) to field, such as `{"Núm. Cliente Banco": "account_key"}`. It wins
over the tenant's saved mapping (`PUT /column-mappings`), which wins over
the headers above.

**Values.** CSV may use `;` or `,` and be UTF-8 (with or without BOM) or
Windows-1252. Amounts may read `1.234,56`, `1,234.56` or `$12,345.67`; an
ambiguous one such as `1.234` is rejected. Postal codes get their leading
zero back and are checked against the state. Phones become E.164. Dates may
be Excel dates or serial numbers (1900 or 1904 system), `dd/mm/yyyy` or
`yyyy-mm-dd`. Coordinates of `0,0` count as missing; swapped latitude and
longitude are fixed with a warning. A formula with no saved result rejects
its row, naming the cell.

Accounts are upserted by account key; valid rows are stored even when other
rows fail, and every failure comes back with its Excel row number. Rows
without coordinates are geocoded from their colonia, municipality and state;
an account that cannot be placed is stored with a `location` warning.
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
        InvalidMappingError,
    ),
)
async def upload_portfolio(
    tenant: CurrentTenant,
    runtime: RuntimeDep,
    settings: SettingsDep,
    locator: LocatorDep,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="The portfolio file.")],
    mapping: Annotated[
        str | None,
        Form(
            description='JSON object of header -> field, e.g. {"Cuenta": "account_key"}'
        ),
    ] = None,
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
        mapping=parse_mapping_field(mapping) if mapping else None,
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
