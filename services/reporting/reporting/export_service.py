"""Campaign exports: which format, which filename, and the streamed bytes.

The campaign is looked up in a short session of its own, before the
response starts, so that a wrong id is a 404 problem and not a broken
download. The rows are then read with a server-side cursor on a connection
that the stream opens and closes itself, so the connection is held only
while the download runs. A client that goes away cancels the stream, which
closes the cursor and returns the connection to the pool.
"""

import asyncio
import re
import unicodedata
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from reporting import export_repository
from reporting.export_csv import CsvExport
from reporting.export_rows import Cell, RowContext, visit_cells
from reporting.export_xlsx import MAX_DATA_ROWS, XlsxExport
from reporting.settings import ReportingSettings
from shared.errors import AppError, NotFoundError, UnprocessableError
from shared.tenancy import RowScope, apply_scope

log = structlog.get_logger(__name__)

MEDIA_TYPES = {
    "text/csv": "csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}


class NotAcceptableError(AppError):
    status = 406
    code = "not-acceptable"
    title = "Not acceptable"


class ExportWriter(Protocol):
    media_type: str
    extension: str

    def start(self) -> bytes: ...

    def rows(self, batch: Sequence[Sequence[Cell]]) -> bytes: ...

    def finish(self) -> bytes: ...


@dataclass(frozen=True)
class ExportPlan:
    """A campaign export that was checked and may start streaming."""

    tenant_id: uuid.UUID
    campaign_id: uuid.UUID
    campaign_name: str
    visit_count: int
    file_format: str


def negotiate_format(accept: str | None) -> str:
    """Return the format an Accept header requests, or CSV when any will do."""
    if not accept:
        return "csv"
    ranked = sorted(_accept_ranges(accept), key=lambda item: -item[1])
    for media_range, quality in ranked:
        if quality <= 0:
            continue
        if media_range in MEDIA_TYPES:
            return MEDIA_TYPES[media_range]
        if media_range in ("*/*", "text/*"):
            return "csv"
    raise NotAcceptableError(
        f"no export format matches Accept: {accept!r}; ask for "
        f"{' or '.join(MEDIA_TYPES)}, or pass format=csv or format=xlsx",
        available=list(MEDIA_TYPES),
    )


def _accept_ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for item in accept.split(","):
        media_range, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((media_range.lower(), quality))
    return ranges


async def plan_export(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    campaign_id: uuid.UUID,
    file_format: str,
) -> ExportPlan:
    """Check that the tenant owns the campaign and that the format can hold it."""
    found = await export_repository.campaign_for_export(session, tenant_id, campaign_id)
    if found is None:
        raise NotFoundError(
            f"campaign {campaign_id} not found for this tenant", campaign_id=campaign_id
        )
    name, visits = found
    if file_format == "xlsx" and visits > MAX_DATA_ROWS:
        raise UnprocessableError(
            f"campaign {campaign_id} has {visits} visits, more than the "
            f"{MAX_DATA_ROWS} rows an XLSX sheet holds; export it as CSV",
            campaign_id=campaign_id,
        )
    return ExportPlan(tenant_id, campaign_id, name, visits, file_format)


@dataclass(frozen=True)
class ExportLimits:
    """How long an export's read may run, and wait for its client, in seconds."""

    statement_seconds: float = 600.0
    idle_seconds: float = 60.0

    @classmethod
    def of(cls, settings: ReportingSettings) -> "ExportLimits":
        return cls(
            statement_seconds=settings.export_statement_timeout_seconds,
            idle_seconds=settings.export_idle_timeout_seconds,
        )


def new_writer(file_format: str) -> ExportWriter:
    return XlsxExport() if file_format == "xlsx" else CsvExport()


def row_context(settings: ReportingSettings) -> RowContext:
    # The settings checked the zone's name when they were read.
    zone = ZoneInfo(settings.export_time_zone)
    return RowContext(zone=zone, photo_base_url=settings.export_visits_base_url)


async def export_bytes(
    engine: AsyncEngine,
    plan: ExportPlan,
    writer: ExportWriter,
    *,
    context: RowContext,
    batch_rows: int,
    limits: ExportLimits | None = None,
) -> AsyncIterator[bytes]:
    """Yield the file's bytes, one piece per batch of visits read."""
    limits = limits or ExportLimits()
    rows = 0
    finished = False
    query = export_repository.export_rows_query(plan.tenant_id, plan.campaign_id)
    try:
        yield writer.start()
        async with engine.connect() as connection:
            # A bare connection, not a session: it sends the plan's tenant
            # itself, or row-level security would hide every row.
            await apply_scope(connection, RowScope(tenant_id=plan.tenant_id))
            await export_repository.limit_export(
                connection,
                statement_seconds=limits.statement_seconds,
                idle_seconds=limits.idle_seconds,
            )
            result = await connection.stream(
                query.execution_options(yield_per=batch_rows)
            )
            async for batch in result.mappings().partitions():
                rows += len(batch)
                # Encoding 1,000 rows took about 0.3 s on a busy 2-core
                # machine. In a thread, the event loop keeps serving requests
                # and consumers meanwhile.
                yield await asyncio.to_thread(encode_batch, writer, batch, context)
        yield writer.finish()
        finished = True
    finally:
        # Also reached when the download is cancelled or abandoned. The
        # connection above is closed by then, and the log records the rows.
        log.info(
            "export.finished" if finished else "export.stopped",
            campaign_id=str(plan.campaign_id),
            file_format=plan.file_format,
            rows=rows,
        )


def encode_batch(
    writer: ExportWriter, batch: Sequence[Any], context: RowContext
) -> bytes:
    """Return the bytes of a batch of stored visits in the writer's format."""
    return writer.rows([visit_cells(row, context) for row in batch])


def content_disposition(campaign_name: str, day: date, extension: str) -> str:
    """Return an attachment header with an ASCII name and the exact UTF-8 one."""
    ascii_name = f"campana-{ascii_slug(campaign_name)}-{day.isoformat()}.{extension}"
    exact = f"campaña-{_filename_safe(campaign_name)}-{day.isoformat()}.{extension}"
    return (
        f'attachment; filename="{ascii_name}"; '
        f"filename*=UTF-8''{quote(exact, safe='')}"
    )


def ascii_slug(text: str) -> str:
    """Return lowercase ASCII letters, digits and dashes: 'Año Ñuñoa' is 'ano-nunoa'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    return slug[:80].rstrip("-") or "exportacion"


def _filename_safe(text: str) -> str:
    # Keep letters with accents, drop what a file system or a header would
    # read as a separator, a quote or a control character.
    cleaned = "".join(
        char if char.isalnum() else "-" for char in unicodedata.normalize("NFC", text)
    )
    return re.sub(r"-+", "-", cleaned).strip("-")[:80] or "exportacion"
