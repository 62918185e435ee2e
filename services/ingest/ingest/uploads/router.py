import asyncio
import unicodedata
from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from fastapi import (
    APIRouter,
    File,
    Form,
    Header,
    Query,
    Request,
    Response,
    UploadFile,
    status,
)
from sse_starlette import EventSourceResponse

from ingest.dependencies import LocatorDep, SettingsDep
from ingest.mappings.service import InvalidMappingError, parse_mapping_field
from ingest.uploads import jobs, report, service
from ingest.uploads.events import stream_upload_events
from ingest.uploads.schemas import OnError, RowErrorPage, UploadOut, UploadPage
from shared.api import (
    AccountsReader,
    AccountsWriter,
    IdempotencyKey,
    RuntimeDep,
    SessionDep,
)
from shared.audit import record_read
from shared.auth import Tenant
from shared.errors import (
    NotFoundError,
    PayloadTooLargeError,
    UnauthorizedError,
    UnprocessableError,
    problem_responses,
)
from shared.idempotency import IdempotencyKeyReusedError
from shared.masking import shows_personal_data
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/uploads", tags=["uploads"])

# The uploads table keeps 300 characters; the end of a long name is kept,
# because it carries the extension and the most specific part.
MAX_FILENAME_CHARS = 300
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

UPLOAD_DESCRIPTION = """Upload a portfolio as XLSX, XLS or CSV (told apart by content).

**Limits.** A file of at most `INGEST_MAX_UPLOAD_BYTES` (20 MiB unless the
operator changed it) and `INGEST_MAX_UPLOAD_ROWS` data rows (100,000). A
larger file gets a 413 and a longer one a 422, each naming the limit. Split
a bigger portfolio into several uploads: accounts are upserted by account
key, so the parts add up.

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


ASYNC_PREFERENCE = "respond-async"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Upload a portfolio file",
    description=UPLOAD_DESCRIPTION,
    responses={
        202: {"description": "Accepted; follow the upload at its Location."},
        **problem_responses(
            UnauthorizedError,
            PayloadTooLargeError,
            service.UnreadableUploadError,
            IdempotencyKeyReusedError,
            InvalidMappingError,
        ),
    },
)
async def upload_portfolio(
    tenant: AccountsWriter,
    runtime: RuntimeDep,
    settings: SettingsDep,
    locator: LocatorDep,
    session: SessionDep,
    request: Request,
    response: Response,
    file: Annotated[UploadFile, File(description="The portfolio file.")],
    mapping: Annotated[
        str | None,
        Form(
            description='JSON object of header -> field, e.g. {"Cuenta": "account_key"}'
        ),
    ] = None,
    on_error: Annotated[
        OnError | None,
        Query(
            description=(
                "`store_valid` stores the valid rows; `reject_all` stores nothing "
                "when a row has an error. Default: the tenant's upload settings."
            )
        ),
    ] = None,
    wait: Annotated[
        bool,
        Query(
            description=(
                "false answers 202 at once and processes the file in the "
                "background; follow it at the Location header."
            )
        ),
    ] = True,
    prefer: Annotated[str | None, Header()] = None,
    idempotency_key: IdempotencyKey = None,
) -> UploadOut:
    # FastAPI keeps the last of several `file` parts; the form is parsed
    # once per request, so reading it again costs nothing.
    sent = (await request.form()).getlist("file")
    if len(sent) > 1:
        raise UnprocessableError(
            f"the request carries {len(sent)} files in the `file` field; send "
            "one file per upload"
        )
    limit = settings.max_upload_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLargeError(
            f"{file.filename} is larger than {limit} bytes; split the portfolio "
            "into several files"
        )
    filename = (file.filename or "upload")[-MAX_FILENAME_CHARS:]
    parsed_mapping = parse_mapping_field(mapping) if mapping else None
    if not wait or ASYNC_PREFERENCE in (prefer or "").lower():
        upload_id = await jobs.accept_upload(
            runtime,
            tenant_id=tenant.tenant_id,
            filename=filename,
            content=content,
            max_rows=settings.max_upload_rows,
            mapping=parsed_mapping,
            on_error=on_error,
            idempotency_key=idempotency_key,
        )
        response.status_code = status.HTTP_202_ACCEPTED
        response.headers["Location"] = f"/uploads/{upload_id}"
        return await service.get_upload(
            session, tenant_id=tenant.tenant_id, upload_id=upload_id
        )
    return await service.process_upload(
        runtime,
        session,
        tenant_id=tenant.tenant_id,
        filename=filename,
        content=content,
        max_rows=settings.max_upload_rows,
        locator=locator,
        mapping=parsed_mapping,
        idempotency_key=idempotency_key,
        on_error=on_error,
    )


@router.get(
    "",
    summary="The tenant's uploads, newest first",
    responses=problem_responses(UnauthorizedError, UnprocessableError),
)
async def list_uploads(
    tenant: AccountsReader,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(description="`next_cursor` of the previous page.")
    ] = None,
) -> UploadPage:
    return await service.page_uploads(
        session, tenant_id=tenant.tenant_id, limit=limit, cursor=cursor
    )


@router.get(
    "/{upload_id}",
    summary="An upload's state, progress and row-by-row report",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def get_upload(
    upload_id: UUID, tenant: AccountsReader, runtime: RuntimeDep, session: SessionDep
) -> UploadOut:
    upload = await service.get_upload(
        session, tenant_id=tenant.tenant_id, upload_id=upload_id
    )
    # Row errors quote the invalid cells, which often contain debtors' data.
    if upload.errors:
        await _record_report_read(runtime, tenant, upload_id)
    return upload


@router.get(
    "/{upload_id}/errors",
    summary="Every row error and warning of an upload, a page at a time, in row order",
    responses=problem_responses(UnauthorizedError, NotFoundError, UnprocessableError),
)
async def list_upload_errors(
    upload_id: UUID,
    tenant: AccountsReader,
    runtime: RuntimeDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=5_000)] = 1_000,
    cursor: Annotated[
        str | None, Query(description="`next_cursor` of the previous page.")
    ] = None,
) -> RowErrorPage:
    page = await service.page_row_issues(
        session,
        tenant_id=tenant.tenant_id,
        upload_id=upload_id,
        limit=limit,
        cursor=cursor,
    )
    if page.items:
        await _record_report_read(runtime, tenant, upload_id)
    return page


async def _record_report_read(
    runtime: ServiceRuntime, tenant: Tenant, upload_id: UUID
) -> None:
    await record_read(
        runtime,
        tenant_id=tenant.tenant_id,
        actor=tenant.caller,
        resource="upload_report",
        resource_ids=[upload_id],
    )


@router.get(
    "/{upload_id}/events",
    summary="Server-Sent Events of an upload's progress, ending with its final state",
    response_class=EventSourceResponse,
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def upload_events(
    upload_id: UUID,
    tenant: AccountsReader,
    runtime: RuntimeDep,
    settings: SettingsDep,
    session: SessionDep,
) -> EventSourceResponse:
    # Checked before streaming, so an unknown upload is a 404, not an empty stream.
    await service.get_upload(session, tenant_id=tenant.tenant_id, upload_id=upload_id)
    await session.close()
    return EventSourceResponse(
        stream_upload_events(
            runtime,
            tenant_id=tenant.tenant_id,
            upload_id=upload_id,
            poll_seconds=settings.upload_events_poll_seconds,
        )
    )


@router.get(
    "/{upload_id}/report.xlsx",
    summary="The rows with errors or warnings, as a workbook to fix and upload again",
    response_class=Response,
    responses={
        200: {"content": {XLSX_MEDIA_TYPE: {}}},
        **problem_responses(
            UnauthorizedError, NotFoundError, report.ReportNotReadyError
        ),
    },
)
async def download_xlsx_report(
    upload_id: UUID, tenant: AccountsReader, runtime: RuntimeDep, session: SessionDep
) -> Response:
    loaded = await report.load_report(
        session, tenant_id=tenant.tenant_id, upload_id=upload_id
    )
    await record_read(
        runtime,
        tenant_id=tenant.tenant_id,
        actor=tenant.caller,
        resource="upload_report",
        resource_ids=[upload_id],
    )
    if not shows_personal_data(tenant):
        loaded = loaded.masked()
    content = await asyncio.to_thread(report.xlsx_report, loaded)
    return Response(
        content,
        media_type=XLSX_MEDIA_TYPE,
        headers=_attachment(loaded.filename, "xlsx"),
    )


@router.get(
    "/{upload_id}/report.csv",
    summary="The rows with errors or warnings, as CSV",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}},
        **problem_responses(
            UnauthorizedError, NotFoundError, report.ReportNotReadyError
        ),
    },
)
async def download_csv_report(
    upload_id: UUID, tenant: AccountsReader, runtime: RuntimeDep, session: SessionDep
) -> Response:
    loaded = await report.load_report(
        session, tenant_id=tenant.tenant_id, upload_id=upload_id
    )
    await record_read(
        runtime,
        tenant_id=tenant.tenant_id,
        actor=tenant.caller,
        resource="upload_report",
        resource_ids=[upload_id],
    )
    if not shows_personal_data(tenant):
        loaded = loaded.masked()
    return Response(
        report.csv_report(loaded),
        media_type="text/csv; charset=utf-8",
        headers=_attachment(loaded.filename, "csv"),
    )


def _attachment(filename: str, extension: str) -> dict[str, str]:
    # Control and format characters (a raw \x01, a right-to-left override)
    # cannot go in a header, so they are dropped from the name.
    printable = "".join(
        char for char in filename if unicodedata.category(char) not in ("Cc", "Cf")
    )
    stem = printable.rsplit(".", 1)[0] or "upload"
    name = f"{stem}-errores.{extension}"
    ascii_name = (
        name.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
    )
    return {
        "Content-Disposition": (
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
        )
    }
