"""Accounts posted as JSON, validated and stored by the same code as a file.

Each item becomes a row of cells under a column map that names the fields
directly, so `parse_row` applies the file's rules and `store_file` the
file's store path. Each call is recorded as an upload in `json` format.
"""

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ingest.accounts.bulk_schemas import (
    MAX_BULK_ACCOUNTS,
    BulkAccount,
    BulkItemError,
    BulkRequest,
    BulkResult,
)
from ingest.geocoding.service import AccountLocator
from ingest.models import common
from ingest.uploads import repository, service
from ingest.uploads.columns import ColumnMap
from ingest.uploads.extent import MAX_COLUMNS
from ingest.uploads.parsing import DataRow, OpenedFile
from ingest.uploads.progress import UploadProgress
from ingest.uploads.rows import KEEPABLE_FIELDS, RowContext, parse_row
from shared.errors import PayloadTooLargeError, UnprocessableError
from shared.idempotency import fingerprint, run_idempotent
from shared.runtime import ServiceRuntime

FIELDS = [name for name in BulkAccount.model_fields if name != "extra"]
BULK_FILENAME = "accounts-bulk.json"


class TooManyAccountsError(PayloadTooLargeError):
    code = "too-many-accounts"
    title = "Too many accounts in one call"


async def store_bulk(
    runtime: ServiceRuntime,
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    request: BulkRequest,
    locator: AccountLocator,
    idempotency_key: str | None,
) -> BulkResult:
    """Validate every item, store the valid ones and report each invalid one."""
    count = len(request.accounts)
    if count > MAX_BULK_ACCOUNTS:
        raise TooManyAccountsError(
            f"the request has {count} accounts; the limit is {MAX_BULK_ACCOUNTS} "
            "per call, so send them in several calls",
            limit=MAX_BULK_ACCOUNTS,
        )
    extra_names = {name for item in request.accounts for name in item.extra}
    if len(extra_names) > MAX_COLUMNS:
        raise UnprocessableError(
            f"the accounts carry {len(extra_names)} different extra attributes; "
            f"the limit is {MAX_COLUMNS}, as for a file's columns",
            limit=MAX_COLUMNS,
        )
    policy = await service.resolve_on_error(session, tenant_id, request.on_error)
    async with session.begin():
        currency = await repository.tenant_currency(session, tenant_id)
    progress = UploadProgress()
    opened = _open_items(request.accounts, currency, progress)

    async def store() -> tuple[int, dict[str, str]]:
        upload = await repository.insert_upload(
            session, tenant_id=tenant_id, filename=BULK_FILENAME, file_format="json"
        )
        await service.store_file(
            runtime,
            session,
            tenant_id=tenant_id,
            upload_id=upload.upload_id,
            opened=opened,
            locator=locator,
            progress=progress,
            on_error=policy,
            filename=BULK_FILENAME,
        )
        return 201, {"upload_id": str(upload.upload_id)}

    _, body = await run_idempotent(
        session,
        common,
        tenant_id=tenant_id,
        key=idempotency_key,
        request_fingerprint=fingerprint(
            "POST /accounts/bulk",
            json.dumps(request.model_dump(mode="json"), sort_keys=True),
            policy.value,
        ),
        action=store,
    )
    runtime.relay.notify()
    # A call contains at most MAX_BULK_ACCOUNTS items, so every error is returned.
    upload = await service.get_upload(
        session,
        tenant_id=tenant_id,
        upload_id=uuid.UUID(body["upload_id"]),
        all_errors=True,
    )
    return BulkResult(
        upload_id=upload.upload_id,
        status=upload.status,
        accounts_received=upload.rows_total,
        accounts_valid=upload.rows_valid,
        accounts_invalid=upload.rows_invalid,
        accounts_created=upload.accounts_created,
        accounts_updated=upload.accounts_updated,
        errors=[
            BulkItemError(
                index=error.row,
                field=error.column,
                value=error.value,
                message=error.message,
                severity=error.severity,
            )
            for error in upload.errors
        ],
    )


def _kept_by(item: BulkAccount) -> set[str]:
    """Name the stored fields an item leaves alone: those it does not send.

    As a file without a column keeps the stored value and an empty cell
    clears it, an item without a field keeps it and `null` clears it.
    """
    absent = {name for name in FIELDS if name not in item.model_fields_set}
    kept = absent & set(KEEPABLE_FIELDS)
    if absent & {"latitude", "longitude"}:
        kept.add("location")
    return kept


def _open_items(
    accounts: list[BulkAccount], currency: str, progress: UploadProgress
) -> OpenedFile:
    """Run the items through the file's row rules; row numbers are item indexes.

    The items are parsed as the store step reads them, as a file's rows are.
    """
    extra_names = sorted({name for item in accounts for name in item.extra})
    columns = ColumnMap(
        fields={name: index for index, name in enumerate(FIELDS)},
        extras={name: len(FIELDS) + index for index, name in enumerate(extra_names)},
        headers=dict(enumerate([*FIELDS, *extra_names])),
    )
    context = RowContext(
        columns=columns, today=datetime.now(UTC).date(), currency=currency
    )

    def rows() -> Iterator[DataRow]:
        for index, item in enumerate(accounts):
            cells: list[object] = [getattr(item, name) for name in FIELDS]
            cells += [item.extra.get(name) for name in extra_names]
            row = parse_row(cells, context, row_number=index)
            if row.account is not None:
                row.account.kept_fields = set(row.account.kept_fields) | _kept_by(item)
            progress.on_row(row, len(accounts))
            yield DataRow(row, cells)

    return OpenedFile("json", columns, header_row_number=0, rows=rows())
