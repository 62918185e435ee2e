"""Portfolio uploads: parse, validate, upsert the good rows, report the bad ones."""

import asyncio
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.accounts.keys import key_form
from ingest.geocoding.service import AccountLocator, Placement
from ingest.mappings import repository as mapping_repository
from ingest.mappings.service import InvalidMappingError, combine
from ingest.models import Upload, common
from ingest.uploads import job_repository, repository
from ingest.uploads.archive import HostileArchiveError, check_xlsx_archive
from ingest.uploads.columns import normalize_header
from ingest.uploads.normalize import AccountRow, RowIssue
from ingest.uploads.parsing import (
    ParsedFile,
    UnreadableFileError,
    parse_file,
    read_row_cells,
)
from ingest.uploads.progress import MAX_REPORT_CELL_CHARS, UploadProgress
from ingest.uploads.repository import StoreCounts
from ingest.uploads.rows import ParsedRow
from ingest.uploads.schemas import (
    OnError,
    RenamedColumnOut,
    RowErrorOut,
    SkippedRowOut,
    UploadOut,
    UploadPage,
    UploadSummaryOut,
)
from shared.errors import NotFoundError, UnprocessableError
from shared.events.payloads import AccountUpserted
from shared.idempotency import fingerprint, run_idempotent
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)


class UnreadableUploadError(UnprocessableError):
    code = "unreadable-upload"
    title = "The file could not be read"


@dataclass
class PreparedUpload:
    """A parsed and geocoded file, ready to be stored in one transaction."""

    parsed: ParsedFile
    placements: dict[str, Placement]
    progress: UploadProgress


async def resolve_on_error(
    session: AsyncSession, tenant_id: uuid.UUID, requested: OnError | None
) -> OnError:
    """Return the upload's own policy, else the tenant's default, else store_valid."""
    if requested is not None:
        return requested
    async with session.begin():
        saved = await job_repository.get_on_error(session, tenant_id)
    return OnError(saved) if saved else OnError.STORE_VALID


async def process_upload(
    runtime: ServiceRuntime,
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    filename: str,
    content: bytes,
    max_rows: int,
    locator: AccountLocator,
    mapping: dict[str, str] | None = None,
    idempotency_key: str | None = None,
    on_error: OnError | None = None,
) -> UploadOut:
    """Store every valid row and report every invalid one, in one transaction.

    With an Idempotency-Key, sending the same file again returns the first
    upload's report instead of a new one. `mapping` (header -> field) wins
    over the tenant's saved mapping. With `reject_all`, one error row means
    no account is stored and the upload ends `rejected`.
    """
    policy = await resolve_on_error(session, tenant_id, on_error)
    prepared = await prepare_upload(
        session,
        tenant_id=tenant_id,
        filename=filename,
        content=content,
        max_rows=max_rows,
        locator=locator,
        mapping=mapping,
        progress=UploadProgress(),
    )

    async def store() -> tuple[int, dict[str, str]]:
        upload = await repository.insert_upload(
            session,
            tenant_id=tenant_id,
            filename=filename,
            file_format=prepared.parsed.file_format,
        )
        await store_upload(
            runtime, session, tenant_id, upload.upload_id, prepared, policy
        )
        return 201, {"upload_id": str(upload.upload_id)}

    _, body = await run_idempotent(
        session,
        common,
        tenant_id=tenant_id,
        key=idempotency_key,
        request_fingerprint=upload_fingerprint(filename, content, mapping, policy),
        action=store,
    )
    runtime.relay.notify()
    return await get_upload(
        session, tenant_id=tenant_id, upload_id=uuid.UUID(body["upload_id"])
    )


def upload_fingerprint(
    filename: str, content: bytes, mapping: dict[str, str] | None, policy: OnError
) -> str:
    return fingerprint(
        "POST /uploads",
        filename,
        hashlib.sha256(content).hexdigest(),
        json.dumps(mapping or {}, sort_keys=True),
        policy.value,
    )


async def prepare_upload(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    filename: str,
    content: bytes,
    max_rows: int,
    locator: AccountLocator,
    mapping: dict[str, str] | None,
    progress: UploadProgress,
) -> PreparedUpload:
    """Parse and geocode a file; raise UnreadableUploadError when it cannot be read.

    Parsing runs in a worker thread, because a large workbook would otherwise
    block the event loop for seconds.
    """
    async with session.begin():
        saved = await mapping_repository.get_mapping(session, tenant_id=tenant_id)
        currency = await repository.tenant_currency(session, tenant_id)
    combined = combine(saved.mapping if saved else {}, mapping)
    try:
        await asyncio.to_thread(check_xlsx_archive, content)
        parsed = await asyncio.to_thread(
            parse_file,
            content,
            max_rows=max_rows,
            mapping=combined,
            currency=currency,
            progress=progress.on_row,
        )
    except (UnreadableFileError, HostileArchiveError) as error:
        raise UnreadableUploadError(f"{filename}: {error}", filename=filename) from None
    _check_mapped_headers(parsed, mapping or {})
    # Geocoding may wait on a provider, so it runs before the transaction.
    # NOTE: a replayed Idempotency-Key geocodes the file again, though the
    # provider's results then come from the cache.
    placements = await locator.locate(parsed)
    await asyncio.to_thread(
        _keep_late_cells, parsed, progress, content, max_rows, combined
    )
    progress.on_located()
    return PreparedUpload(parsed, placements, progress)


def _keep_late_cells(
    parsed: ParsedFile,
    progress: UploadProgress,
    content: bytes,
    max_rows: int,
    mapping: dict[str, str],
) -> None:
    """Keep the original cells of rows that got issues after parsing.

    Geocoding warnings and repeated keys come after a row was parsed, when
    its cells are gone, so those rows are read from the file again.
    """
    _, issues = _split_rows(parsed)
    late = {row_number for row_number, _ in issues} - progress.cells.keys()
    if late:
        progress.keep_cells(
            read_row_cells(content, late, max_rows=max_rows, mapping=mapping)
        )


async def store_upload(
    runtime: ServiceRuntime,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    upload_id: uuid.UUID,
    prepared: PreparedUpload,
    on_error: OnError,
) -> None:
    """Write the accounts, their events, the row issues and the upload's counts.

    Runs inside the caller's transaction, on an upload row that exists.
    """
    parsed = prepared.parsed
    accounts, issues = _split_rows(parsed)
    rejected = on_error is OnError.REJECT_ALL and any(
        issue.severity == "error" for _, issue in issues
    )
    stored = StoreCounts(created=0, updated=0, unchanged=0)
    currency = await repository.tenant_currency(session, tenant_id)
    if not rejected:
        stored = await repository.upsert_accounts(
            session,
            tenant_id=tenant_id,
            upload_id=upload_id,
            currency=currency,
            rows=accounts,
            placements=prepared.placements,
            event_topic=runtime.settings.topic(AccountUpserted.topic),
            event_source=f"/{runtime.name}",
            progress=prepared.progress.store_callback(len(accounts)),
        )
    await repository.insert_row_issues(
        session, tenant_id=tenant_id, upload_id=upload_id, issues=issues
    )
    await job_repository.insert_row_cells(
        session,
        tenant_id=tenant_id,
        upload_id=upload_id,
        rows={
            row_number: prepared.progress.report_cells(row_number)
            for row_number in sorted({row_number for row_number, _ in issues})
        },
    )

    counts = {
        "rows_total": len(parsed.rows),
        "rows_valid": len(accounts),
        "rows_invalid": len(parsed.rows) - len(accounts),
        "accounts_created": stored.created,
        "accounts_updated": stored.updated,
        "accounts_unchanged": stored.unchanged,
    }
    await repository.finish_upload(
        session,
        upload_id,
        header_row=parsed.header_row_number,
        column_report=_column_report(parsed),
        **counts,
    )
    status = "rejected" if rejected else "completed"
    await job_repository.finish_job(
        session,
        upload_id,
        status=status,
        on_error=on_error.value,
        headers=_header_list(parsed),
    )
    log.info(
        f"upload.{status}",
        tenant_id=str(tenant_id),
        upload_id=str(upload_id),
        rows_skipped=len(parsed.skipped),
        **counts,
    )


def _column_report(parsed: ParsedFile) -> dict[str, Any]:
    return {
        "columns": parsed.columns.used_mapping(),
        "extra_columns": list(parsed.columns.extras),
        "renamed_duplicate_columns": [
            {"header": item.header, "column": item.column, "name": item.name}
            for item in parsed.columns.renamed
        ],
        "skipped_rows": [
            {"row": item.row_number, "reason": item.reason} for item in parsed.skipped
        ],
        "notices": parsed.notices,
    }


def _header_list(parsed: ParsedFile) -> list[str]:
    """Return the header row as a list, a blank header as an empty string."""
    headers = parsed.columns.headers
    width = max(headers, default=-1) + 1
    return [headers.get(index, "")[:MAX_REPORT_CELL_CHARS] for index in range(width)]


def _check_mapped_headers(parsed: ParsedFile, mapping: dict[str, str]) -> None:
    """Reject an upload whose own mapping names a header the file lacks."""
    found = {normalize_header(header) for header in parsed.columns.headers.values()}
    absent = [header for header in mapping if normalize_header(header) not in found]
    if absent:
        raise InvalidMappingError(
            f"the mapping names headers that are not in the header row (row "
            f"{parsed.header_row_number}): {', '.join(absent)}; headers found: "
            + ", ".join(parsed.columns.headers.values())
        )


def _split_rows(
    parsed: ParsedFile,
) -> tuple[list[AccountRow], list[tuple[int, RowIssue]]]:
    """Split rows into valid accounts and issues; a repeated key is an error.

    Keys are compared as `key_form` does, so `z1` repeats `Z1`.
    """
    accounts: list[AccountRow] = []
    issues: list[tuple[int, RowIssue]] = []
    # The first row of each key, kept as the row itself so a large file
    # costs no extra object per key.
    first_of_key: dict[str, ParsedRow] = {}
    for row in parsed.rows:
        issues.extend((row.row_number, issue) for issue in row.issues)
        if row.account is None:
            continue
        key = row.account.account_key
        folded = key_form(key)
        if folded in first_of_key:
            first = first_of_key[folded]
            assert first.account is not None
            first_row, first_key = first.row_number, first.account.account_key
            if first_key == key:
                message = (
                    f"account {key} already appears on row {first_row}; "
                    "each account may appear once per file"
                )
            else:
                message = (
                    f"account {key} is account {first_key} on row {first_row} "
                    "when case is ignored, as collection systems compare keys; "
                    "each account may appear once per file"
                )
            issues.append((row.row_number, RowIssue("account_key", key, message)))
            continue
        first_of_key[folded] = row
        accounts.append(row.account)
    return accounts, issues


async def get_upload(
    session: AsyncSession, *, tenant_id: uuid.UUID, upload_id: uuid.UUID
) -> UploadOut:
    async with session.begin():
        upload = await repository.get_upload(
            session, tenant_id=tenant_id, upload_id=upload_id
        )
        if upload is None:
            raise NotFoundError(f"upload {upload_id} not found")
        issues = await repository.list_row_issues(
            session, tenant_id=tenant_id, upload_id=upload_id
        )
    report = upload.column_report or {}
    return UploadOut(
        **upload_summary(upload).model_dump(),
        header_row=upload.header_row,
        columns=report.get("columns", {}),
        extra_columns=report.get("extra_columns", []),
        renamed_duplicate_columns=[
            RenamedColumnOut.from_report(item)
            for item in report.get("renamed_duplicate_columns", [])
        ],
        skipped_rows=[
            SkippedRowOut.model_validate(item)
            for item in report.get("skipped_rows", [])
        ],
        notices=report.get("notices", []),
        errors=[
            RowErrorOut(
                row=issue.row_number,
                column=issue.column,
                value=issue.value,
                message=issue.message,
                severity=issue.severity,
            )
            for issue in issues
        ],
    )


def upload_summary(upload: Upload) -> UploadSummaryOut:
    return UploadSummaryOut(
        upload_id=upload.upload_id,
        filename=upload.filename,
        file_format=upload.file_format,
        status=upload.status,
        on_error=OnError(upload.on_error),
        rows_read=upload.rows_read,
        rows_total=upload.rows_total,
        rows_valid=upload.rows_valid,
        rows_invalid=upload.rows_invalid,
        progress_percent=upload.progress_percent,
        accounts_created=upload.accounts_created,
        accounts_updated=upload.accounts_updated,
        accounts_unchanged=upload.accounts_unchanged,
        failure_message=upload.failure_message,
        created_at=upload.created_at,
        finished_at=upload.finished_at,
    )


async def page_uploads(
    session: AsyncSession, *, tenant_id: uuid.UUID, limit: int, cursor: str | None
) -> UploadPage:
    before = _decode_cursor(cursor) if cursor else None
    async with session.begin():
        uploads = await job_repository.page_uploads(
            session, tenant_id=tenant_id, limit=limit + 1, before=before
        )
    page, more = uploads[:limit], len(uploads) > limit
    next_cursor = None
    if more:
        last = page[-1]
        next_cursor = f"{last.created_at.isoformat()}|{last.upload_id}"
    return UploadPage(
        items=[upload_summary(upload) for upload in page], next_cursor=next_cursor
    )


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    created_at, _, upload_id = cursor.partition("|")
    try:
        return datetime.fromisoformat(created_at), uuid.UUID(upload_id)
    except ValueError:
        raise UnprocessableError(
            f"cursor {cursor[:80]!r} is not a cursor of this listing; send the "
            "`next_cursor` of the previous page, or omit it for the first page"
        ) from None
