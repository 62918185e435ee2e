"""Portfolio uploads: parse, validate, upsert the good rows, report the bad ones."""

import asyncio
import hashlib
import json
import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.geocoding.service import AccountLocator, Placement
from ingest.mappings import repository as mapping_repository
from ingest.mappings.service import InvalidMappingError, combine
from ingest.models import common
from ingest.uploads import repository
from ingest.uploads.columns import normalize_header
from ingest.uploads.normalize import AccountRow, RowIssue
from ingest.uploads.parsing import ParsedFile, UnreadableFileError, parse_file
from ingest.uploads.schemas import (
    RenamedColumnOut,
    RowErrorOut,
    SkippedRowOut,
    UploadOut,
)
from shared.errors import NotFoundError, UnprocessableError
from shared.events.payloads import AccountUpserted
from shared.idempotency import fingerprint, run_idempotent
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)


class UnreadableUploadError(UnprocessableError):
    code = "unreadable-upload"
    title = "The file could not be read"


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
) -> UploadOut:
    """Store every valid row and report every invalid one, in one transaction.

    Parsing runs in a worker thread, because a large workbook would otherwise
    block the event loop for seconds. With an Idempotency-Key, sending the
    same file again returns the first upload's report instead of a new one.
    `mapping` (header -> field) wins over the tenant's saved mapping.
    """
    async with session.begin():
        saved = await mapping_repository.get_mapping(session, tenant_id=tenant_id)
        currency = await repository.tenant_currency(session, tenant_id)
    combined = combine(saved.mapping if saved else {}, mapping)
    try:
        parsed = await asyncio.to_thread(
            parse_file,
            content,
            max_rows=max_rows,
            mapping=combined,
            currency=currency,
        )
    except UnreadableFileError as error:
        raise UnreadableUploadError(f"{filename}: {error}", filename=filename) from None
    _check_mapped_headers(parsed, mapping or {})
    # Geocoding may wait on a provider, so it runs before the transaction.
    # NOTE: a replayed Idempotency-Key geocodes the file again, though the
    # provider's results then come from the cache.
    placements = await locator.locate(parsed)

    async def store() -> tuple[int, dict[str, str]]:
        upload_id = await _store(
            runtime, session, tenant_id, filename, parsed, placements
        )
        return 201, {"upload_id": str(upload_id)}

    _, body = await run_idempotent(
        session,
        common,
        tenant_id=tenant_id,
        key=idempotency_key,
        request_fingerprint=fingerprint(
            "POST /uploads",
            filename,
            hashlib.sha256(content).hexdigest(),
            json.dumps(mapping or {}, sort_keys=True),
        ),
        action=store,
    )
    runtime.relay.notify()
    return await get_upload(
        session, tenant_id=tenant_id, upload_id=uuid.UUID(body["upload_id"])
    )


async def _store(
    runtime: ServiceRuntime,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    filename: str,
    parsed: ParsedFile,
    placements: dict[str, Placement],
) -> uuid.UUID:
    """Write the upload, its accounts, their events and the row issues."""
    accounts, issues = _split_rows(parsed)

    upload = await repository.insert_upload(
        session,
        tenant_id=tenant_id,
        filename=filename,
        file_format=parsed.file_format,
    )
    currency = await repository.tenant_currency(session, tenant_id)
    stored = await repository.upsert_accounts(
        session,
        tenant_id=tenant_id,
        upload_id=upload.upload_id,
        currency=currency,
        rows=accounts,
        placements=placements,
        event_topic=runtime.settings.topic(AccountUpserted.topic),
        event_source=f"/{runtime.name}",
    )
    await repository.insert_row_issues(
        session, tenant_id=tenant_id, upload_id=upload.upload_id, issues=issues
    )

    counts = {
        "rows_total": len(parsed.rows),
        "rows_valid": len(accounts),
        "rows_invalid": len(parsed.rows) - len(accounts),
        "accounts_created": stored.created,
        "accounts_updated": stored.updated,
        "accounts_unchanged": stored.unchanged,
    }
    column_report = {
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
    await repository.finish_upload(
        session,
        upload.upload_id,
        header_row=parsed.header_row_number,
        column_report=column_report,
        **counts,
    )
    log.info(
        "upload.completed",
        tenant_id=str(tenant_id),
        upload_id=str(upload.upload_id),
        rows_skipped=len(parsed.skipped),
        **counts,
    )
    return upload.upload_id


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
    """Split rows into valid accounts and issues; a repeated key is an error."""
    accounts: list[AccountRow] = []
    issues: list[tuple[int, RowIssue]] = []
    first_row_of_key: dict[str, int] = {}
    for row in parsed.rows:
        issues.extend((row.row_number, issue) for issue in row.issues)
        if row.account is None:
            continue
        key = row.account.account_key
        if key in first_row_of_key:
            message = (
                f"account {key} already appears on row {first_row_of_key[key]}; "
                "each account may appear once per file"
            )
            issues.append((row.row_number, RowIssue("account_key", key, message)))
            continue
        first_row_of_key[key] = row.row_number
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
        upload_id=upload.upload_id,
        filename=upload.filename,
        file_format=upload.file_format,
        status=upload.status,
        header_row=upload.header_row,
        rows_total=upload.rows_total,
        rows_valid=upload.rows_valid,
        rows_invalid=upload.rows_invalid,
        accounts_created=upload.accounts_created,
        accounts_updated=upload.accounts_updated,
        accounts_unchanged=upload.accounts_unchanged,
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
        created_at=upload.created_at,
        finished_at=upload.finished_at,
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
