"""HTTP routes of campaign exports: one visit a row, as CSV or XLSX."""

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal, cast

import anyio
from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from reporting import export_service
from reporting.export_csv import CsvExport
from reporting.export_service import NotAcceptableError
from reporting.export_slots import export_slots
from reporting.export_xlsx import XlsxExport
from reporting.settings import ReportingSettings
from shared.api import ResultsReader, RuntimeDep
from shared.audit import record_read
from shared.auth import Tenant
from shared.errors import (
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
    UnprocessableError,
    problem_responses,
)
from shared.masking import shows_personal_data
from shared.runtime import ServiceRuntime

router = APIRouter(tags=["exports"])


class ClosingStreamingResponse(StreamingResponse):
    """A streamed response that closes its body however the response ends.

    Starlette cancels the sending task when the client disconnects and
    leaves the body generator suspended until garbage collection. Closing
    it here releases the export's cursor and connection at once. `on_close`
    runs after that, even when the body never started.
    """

    def __init__(self, *args: Any, on_close: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            try:
                body = self.body_iterator
                if hasattr(body, "aclose"):
                    with anyio.CancelScope(shield=True):
                        await body.aclose()
            finally:
                self.on_close()


FILE_CONTENT = {
    200: {
        "content": {CsvExport.media_type: {}, XlsxExport.media_type: {}},
        "description": "The file, streamed as it is written",
    }
}
EXPORT_ERRORS = problem_responses(
    UnauthorizedError,
    NotFoundError,
    NotAcceptableError,
    UnprocessableError,
    TooManyRequestsError,
)
CSV_ERRORS = problem_responses(UnauthorizedError, NotFoundError, TooManyRequestsError)
XLSX_ERRORS = problem_responses(
    UnauthorizedError, NotFoundError, UnprocessableError, TooManyRequestsError
)
DESCRIPTION = (
    "One row per visit with Spanish headers: account, debtor, address, agent, "
    "dates, result, person met, promise, new phones, notes, check-in GPS and "
    "distance, and links to the photos on the visits API. Dates and times are "
    "local to REPORTING_EXPORT_TIME_ZONE. Text that a spreadsheet would run as "
    "a formula starts with a single quote. Without the personal:read scope, "
    "debtors' names and phones are masked."
)


@router.get(
    "/campaigns/{campaign_id}/export",
    summary="Export a campaign's visits; the format from `format` or Accept",
    description=DESCRIPTION + " Without `format`, the Accept header chooses: "
    "text/csv (also for */*) or the XLSX media type; anything else is a 406.",
    response_class=StreamingResponse,
    responses={**FILE_CONTENT, **EXPORT_ERRORS},
)
async def export_campaign(
    campaign_id: uuid.UUID,
    runtime: RuntimeDep,
    tenant: ResultsReader,
    file_format: Annotated[Literal["csv", "xlsx"] | None, Query(alias="format")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    chosen = file_format or export_service.negotiate_format(accept)
    return await _stream(runtime, tenant, campaign_id, chosen)


@router.get(
    "/campaigns/{campaign_id}/export.csv",
    summary="Export a campaign's visits as CSV (UTF-8 with BOM)",
    description=DESCRIPTION,
    response_class=StreamingResponse,
    responses={**FILE_CONTENT, **CSV_ERRORS},
)
async def export_campaign_csv(
    campaign_id: uuid.UUID, runtime: RuntimeDep, tenant: ResultsReader
) -> StreamingResponse:
    return await _stream(runtime, tenant, campaign_id, "csv")


@router.get(
    "/campaigns/{campaign_id}/export.xlsx",
    summary="Export a campaign's visits as an XLSX workbook",
    description=DESCRIPTION,
    response_class=StreamingResponse,
    responses={**FILE_CONTENT, **XLSX_ERRORS},
)
async def export_campaign_xlsx(
    campaign_id: uuid.UUID, runtime: RuntimeDep, tenant: ResultsReader
) -> StreamingResponse:
    return await _stream(runtime, tenant, campaign_id, "xlsx")


async def _stream(
    runtime: ServiceRuntime,
    tenant: Tenant,
    campaign_id: uuid.UUID,
    file_format: str,
) -> StreamingResponse:
    tenant_id = tenant.tenant_id
    settings = cast(ReportingSettings, runtime.settings)
    full = shows_personal_data(tenant)
    context = replace(export_service.row_context(settings), mask_personal=not full)
    # A session of its own, closed before the body streams: see export_service.
    async with runtime.sessionmaker() as session:
        plan = await export_service.plan_export(
            session,
            tenant_id=tenant_id,
            campaign_id=campaign_id,
            file_format=file_format,
        )
    # The file contains every debtor of the campaign: address, debt and
    # results, and the names and phones unless masked. Recorded either way.
    await record_read(
        runtime,
        tenant_id=tenant_id,
        actor=tenant.caller,
        resource="campaign_export",
        resource_ids=[campaign_id],
        campaign_id=campaign_id,
    )
    writer = export_service.new_writer(file_format)
    today = datetime.now(context.zone).date()
    body = export_service.export_bytes(
        runtime.engine,
        plan,
        writer,
        context=context,
        batch_rows=settings.export_batch_rows,
        limits=export_service.ExportLimits.of(settings),
    )
    # Taken last, so that a rejected plan or a failed audit write takes no
    # slot. The response releases it however the download ends.
    end_slot = export_slots(runtime).take(tenant_id)
    return ClosingStreamingResponse(
        body,
        on_close=end_slot,
        media_type=writer.media_type,
        headers={
            "Content-Disposition": export_service.content_disposition(
                plan.campaign_name, today, writer.extension
            ),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
