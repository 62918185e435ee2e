"""Portfolio uploads: parse, validate, upsert the good rows, report the bad ones."""

import asyncio
import hashlib
import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.accounts.keys import key_form
from ingest.geocoding.base import RequestBudget
from ingest.geocoding.service import AccountLocator
from ingest.mappings import repository as mapping_repository
from ingest.mappings.service import InvalidMappingError, combine
from ingest.models import Upload, UploadError, common
from ingest.uploads import job_repository, repository
from ingest.uploads.archive import HostileArchiveError, check_xlsx_archive
from ingest.uploads.columns import normalize_header
from ingest.uploads.issue_values import reportable
from ingest.uploads.normalize import RowIssue
from ingest.uploads.parsing import (
    DataRow,
    OpenedFile,
    UnreadableFileError,
    open_file,
)
from ingest.uploads.progress import MAX_REPORT_CELL_CHARS, UploadProgress, report_cells
from ingest.uploads.repository import StoreCounts
from ingest.uploads.rows import ParsedRow
from ingest.uploads.schemas import (
    OnError,
    RenamedColumnOut,
    RowErrorOut,
    RowErrorPage,
    SkippedRowOut,
    UploadOut,
    UploadPage,
    UploadSummaryOut,
)
from shared.errors import UnprocessableError
from shared.events.payloads import AccountUpserted
from shared.idempotency import fingerprint, run_idempotent
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)


class UnreadableUploadError(UnprocessableError):
    code = "unreadable-upload"
    title = "The file could not be read"


# Row errors and warnings an upload's own response carries; the rest are
# paged by GET /uploads/{upload_id}/errors.
INLINE_ERRORS = 1_000

# Rows parsed, placed and staged together. The rows of one chunk, with their
# cells, are the only rows of the file that an upload keeps in memory.
CHUNK_ROWS = 20_000


@dataclass
class _Tally:
    """Running totals of one upload's chunks."""

    rows_total: int = 0
    rows_valid: int = 0
    has_errors: bool = False
    # Whether a staged key has a letter beyond ASCII, which the database
    # may fold otherwise than `key_form` does.
    non_ascii_keys: bool = False
    # The row each account key first appears on, by `key_form`.
    first_rows: dict[str, int] = field(default_factory=dict)


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
    progress = UploadProgress()
    opened = await open_upload(
        session,
        tenant_id=tenant_id,
        filename=filename,
        content=content,
        max_rows=max_rows,
        mapping=mapping,
        progress=progress,
    )

    async def store() -> tuple[int, dict[str, str]]:
        upload = await repository.insert_upload(
            session,
            tenant_id=tenant_id,
            filename=filename,
            file_format=opened.file_format,
        )
        await store_file(
            runtime,
            session,
            tenant_id=tenant_id,
            upload_id=upload.upload_id,
            opened=opened,
            locator=locator,
            progress=progress,
            on_error=policy,
            filename=filename,
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


async def open_upload(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    filename: str,
    content: bytes,
    max_rows: int,
    mapping: dict[str, str] | None,
    progress: UploadProgress,
) -> OpenedFile:
    """Check the file, find its header and map its columns.

    Raises UnreadableUploadError when the file cannot be read, and
    InvalidMappingError when the upload's own mapping names a header the
    file lacks. The rows are read later, by `store_file`. The checks run in
    a worker thread, because a large workbook would otherwise block the
    event loop for seconds.
    """
    async with session.begin():
        saved = await mapping_repository.get_mapping(session, tenant_id=tenant_id)
        currency = await repository.tenant_currency(session, tenant_id)
    combined = combine(saved.mapping if saved else {}, mapping)
    try:
        await asyncio.to_thread(check_xlsx_archive, content)
        opened = await asyncio.to_thread(
            open_file,
            content,
            max_rows=max_rows,
            mapping=combined,
            currency=currency,
            progress=progress.on_row,
        )
    except (UnreadableFileError, HostileArchiveError) as error:
        raise UnreadableUploadError(f"{filename}: {error}", filename=filename) from None
    _check_mapped_headers(opened, mapping or {})
    return opened


async def store_file(
    runtime: ServiceRuntime,
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    upload_id: uuid.UUID,
    opened: OpenedFile,
    locator: AccountLocator,
    progress: UploadProgress,
    on_error: OnError,
    filename: str,
) -> None:
    """Read, place and store the file's rows, and report their issues.

    Runs inside the caller's transaction, on an upload row that exists. The
    rows are read, placed and copied to a staging table a chunk at a time,
    with each chunk's issues and reported cells; one statement then stores
    every staged account with its event. Memory stays within a chunk of rows
    plus one entry per account key, whatever the file's size.

    Geocoding runs inside the transaction, so a slow provider keeps it
    open. No account row is locked until the last step.
    """
    currency = await repository.tenant_currency(session, tenant_id)
    await repository.create_staging(session)
    budget = RequestBudget()
    tally = _Tally()
    while chunk := await asyncio.to_thread(_next_chunk, opened.rows, filename):
        await _stage_chunk(session, tenant_id, upload_id, chunk, locator, budget, tally)
    await _drop_folded_repeats(session, tenant_id, upload_id, tally)
    progress.on_staged()

    rejected = on_error is OnError.REJECT_ALL and tally.has_errors
    stored = StoreCounts(created=0, updated=0, unchanged=0)
    if not rejected:
        stored = await repository.store_staged(
            session,
            tenant_id=tenant_id,
            upload_id=upload_id,
            currency=currency,
            staged=tally.rows_valid,
            event_topic=runtime.settings.topic(AccountUpserted.topic),
            event_source=f"/{runtime.name}",
            progress=progress.store_callback(tally.rows_valid),
        )
    counts = {
        "rows_total": tally.rows_total,
        "rows_valid": tally.rows_valid,
        "rows_invalid": tally.rows_total - tally.rows_valid,
        "accounts_created": stored.created,
        "accounts_updated": stored.updated,
        "accounts_unchanged": stored.unchanged,
    }
    await repository.finish_upload(
        session,
        upload_id,
        header_row=opened.header_row_number,
        column_report=_column_report(opened),
        **counts,
    )
    status = "rejected" if rejected else "completed"
    await job_repository.finish_job(
        session,
        upload_id,
        status=status,
        on_error=on_error.value,
        headers=_header_list(opened),
    )
    log.info(
        f"upload.{status}",
        tenant_id=str(tenant_id),
        upload_id=str(upload_id),
        rows_skipped=len(opened.skipped),
        **counts,
    )


def _next_chunk(rows: Iterator[DataRow], filename: str) -> list[DataRow]:
    """Read the next chunk of rows; an empty list means the file is read."""
    try:
        return list(itertools.islice(rows, CHUNK_ROWS))
    except UnreadableFileError as error:
        raise UnreadableUploadError(f"{filename}: {error}", filename=filename) from None


async def _stage_chunk(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    upload_id: uuid.UUID,
    chunk: list[DataRow],
    locator: AccountLocator,
    budget: RequestBudget,
    tally: _Tally,
) -> None:
    """Place and stage a chunk's accounts; write its issues and reported cells.

    Keys compare as `key_form` does, so `z1` repeats `Z1`. A repeated key
    is not staged, and its error names the key as the first row spells it.
    """
    fresh: list[ParsedRow] = []
    # (row, key, row the key first appears on)
    repeats: dict[int, tuple[str, int]] = {}
    for data in chunk:
        row = data.parsed
        if row.account is None:
            continue
        key = row.account.account_key
        first = tally.first_rows.setdefault(key_form(key), row.row_number)
        if first == row.row_number:
            fresh.append(row)
            tally.non_ascii_keys = tally.non_ascii_keys or not key.isascii()
        else:
            repeats[row.row_number] = (key, first)
    tally.rows_total += len(chunk)
    tally.rows_valid += len(fresh)

    placements = await locator.locate(fresh, budget)
    await repository.stage_accounts(session, fresh, placements)
    first_keys = await repository.staged_keys(
        session, sorted({first for _, first in repeats.values()})
    )
    issues: list[tuple[int, RowIssue]] = []
    for data in chunk:
        row_number = data.parsed.row_number
        issues.extend((row_number, issue) for issue in data.parsed.issues)
        if row_number in repeats:
            key, first = repeats[row_number]
            issues.append((row_number, _repeat_issue(key, first, first_keys[first])))
    tally.has_errors = tally.has_errors or any(
        issue.severity == "error" for _, issue in issues
    )
    # Stored and shown to every reader of the upload: no debtor's data in it.
    await repository.insert_row_issues(
        session,
        tenant_id=tenant_id,
        upload_id=upload_id,
        issues=[(row_number, reportable(issue)) for row_number, issue in issues],
    )
    reported = {row_number for row_number, _ in issues}
    await job_repository.insert_row_cells(
        session,
        tenant_id=tenant_id,
        upload_id=upload_id,
        rows={
            data.parsed.row_number: report_cells(data.cells)
            for data in chunk
            if data.parsed.row_number in reported
        },
    )


async def _drop_folded_repeats(
    session: AsyncSession, tenant_id: uuid.UUID, upload_id: uuid.UUID, tally: _Tally
) -> None:
    """Unstage the keys the database folds into an earlier row's key.

    The unique index compares keys by the database's `lower`, which may
    fold letters beyond ASCII that `key_form` keeps apart. Two such rows
    in one statement would make it fail. Their cells were not kept, so the
    report shows these rows with the error alone.
    """
    if not tally.non_ascii_keys:
        return
    repeats = await repository.unstage_folded_repeats(session)
    if not repeats:
        return
    tally.rows_valid -= len(repeats)
    tally.has_errors = True
    await repository.insert_row_issues(
        session,
        tenant_id=tenant_id,
        upload_id=upload_id,
        issues=[
            (row_number, _repeat_issue(key, first_row, first_key))
            for row_number, key, first_row, first_key in repeats
        ],
    )


def _repeat_issue(key: str, first_row: int, first_key: str) -> RowIssue:
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
    return RowIssue("account_key", key, message)


def _column_report(parsed: OpenedFile) -> dict[str, Any]:
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


def _header_list(parsed: OpenedFile) -> list[str]:
    """Return the header row as a list, a blank header as an empty string."""
    headers = parsed.columns.headers
    width = max(headers, default=-1) + 1
    return [headers.get(index, "")[:MAX_REPORT_CELL_CHARS] for index in range(width)]


def _check_mapped_headers(parsed: OpenedFile, mapping: dict[str, str]) -> None:
    """Reject an upload whose own mapping names a header the file lacks."""
    found = {normalize_header(header) for header in parsed.columns.headers.values()}
    absent = [header for header in mapping if normalize_header(header) not in found]
    if absent:
        raise InvalidMappingError(
            f"the mapping names headers that are not in the header row (row "
            f"{parsed.header_row_number}): {', '.join(absent)}; headers found: "
            + ", ".join(parsed.columns.headers.values())
        )


async def get_upload(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    upload_id: uuid.UUID,
    all_errors: bool = False,
) -> UploadOut:
    """Return the upload with its first INLINE_ERRORS issues, or all of them.

    A file with an error on every row would otherwise make a response of
    tens of megabytes; the rest are paged by `page_row_issues`.
    """
    errors_limit = None if all_errors else INLINE_ERRORS
    async with session.begin():
        upload = await repository.require_upload(
            session, tenant_id=tenant_id, upload_id=upload_id
        )
        issues = await repository.list_row_issues(
            session, tenant_id=tenant_id, upload_id=upload_id, limit=errors_limit
        )
        total = len(issues)
        if errors_limit is not None and total == errors_limit:
            total = await repository.count_row_issues(
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
        errors=[_error_out(issue) for issue in issues],
        errors_total=total,
        errors_truncated=total > len(issues),
    )


async def page_row_issues(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    upload_id: uuid.UUID,
    limit: int,
    cursor: str | None,
) -> RowErrorPage:
    after = _decode_issue_cursor(cursor) if cursor else None
    async with session.begin():
        await repository.require_upload(
            session, tenant_id=tenant_id, upload_id=upload_id
        )
        issues = await repository.list_row_issues(
            session,
            tenant_id=tenant_id,
            upload_id=upload_id,
            limit=limit + 1,
            after=after,
        )
    page, more = issues[:limit], len(issues) > limit
    next_cursor = f"{page[-1].row_number}:{page[-1].id}" if more else None
    return RowErrorPage(
        items=[_error_out(issue) for issue in page], next_cursor=next_cursor
    )


def _error_out(issue: UploadError) -> RowErrorOut:
    return RowErrorOut(
        row=issue.row_number,
        column=issue.column,
        value=issue.value,
        message=issue.message,
        severity=issue.severity,
    )


def _decode_issue_cursor(cursor: str) -> tuple[int, int]:
    row, _, issue_id = cursor.partition(":")
    try:
        return int(row), int(issue_id)
    except ValueError:
        raise _invalid_cursor(cursor) from None


def _invalid_cursor(cursor: str) -> UnprocessableError:
    return UnprocessableError(
        f"cursor {cursor[:80]!r} is not a cursor of this listing; send the "
        "`next_cursor` of the previous page, or omit it for the first page"
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
        raise _invalid_cursor(cursor) from None
