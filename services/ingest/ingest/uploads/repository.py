"""SQL for uploads and the accounts they upsert."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from geoalchemy2.elements import WKTElement
from sqlalchemy import func, insert, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.geocoding.service import UNPLACED, Placement
from ingest.models import Account, Upload, UploadError, common
from ingest.uploads.normalize import AccountRow, RowIssue

UPSERT_BATCH_SIZE = 1000

_UPDATABLE = (
    "debtor_name",
    "balance_overdue",
    "currency",
    "days_past_due",
    "street",
    "exterior_number",
    "interior_number",
    "colonia",
    "municipality",
    "state",
    "postal_code",
    "cross_streets",
    "address_references",
    "credit_number",
    "last_payment_date",
    "birth_date",
    "phone",
    "location",
    "location_precision",
    "location_source",
    "location_status",
    "time_zone",
    "extra",
    "last_upload_id",
)


async def insert_upload(
    session: AsyncSession, *, tenant_id: uuid.UUID, filename: str, file_format: str
) -> Upload:
    upload = Upload(
        upload_id=uuid.uuid4(),
        tenant_id=tenant_id,
        filename=filename,
        file_format=file_format,
        status="processing",
        rows_total=0,
        rows_valid=0,
        rows_invalid=0,
        accounts_created=0,
        accounts_updated=0,
        created_at=datetime.now(UTC),
    )
    session.add(upload)
    await session.flush()
    return upload


async def upsert_accounts(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    upload_id: uuid.UUID,
    currency: str,
    rows: list[AccountRow],
    placements: dict[str, Placement],
    progress: Callable[[int], None] | None = None,
) -> list[tuple[uuid.UUID, AccountRow, bool]]:
    """Insert or update accounts by (tenant, account key); return (id, row, created).

    `progress` gets the count of accounts written so far after each batch.
    """
    results: list[tuple[uuid.UUID, AccountRow, bool]] = []
    # Rows are written in key order, so two uploads touching the same
    # accounts take their row locks in the same order: no lock-order deadlock.
    rows = sorted(rows, key=lambda row: row.account_key)
    for start in range(0, len(rows), UPSERT_BATCH_SIZE):
        batch = rows[start : start + UPSERT_BATCH_SIZE]
        values = [
            _account_values(
                tenant_id,
                upload_id,
                currency,
                row,
                placements.get(row.account_key, UNPLACED),
            )
            for row in batch
        ]
        statement = pg_insert(Account).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=["tenant_id", "account_key"],
            set_={
                **{name: statement.excluded[name] for name in _UPDATABLE},
                "updated_at": func.now(),
            },
        ).returning(
            Account.account_id,
            Account.account_key,
            # xmax is 0 only for a row this statement inserted.
            literal_column("(xmax = 0)").label("created"),
        )
        by_key = {row.account_key: row for row in batch}
        for returned in (await session.execute(statement)).all():
            results.append(
                (returned.account_id, by_key[returned.account_key], returned.created)
            )
        if progress is not None:
            progress(len(results))
    return results


def _account_values(
    tenant_id: uuid.UUID,
    upload_id: uuid.UUID,
    currency: str,
    row: AccountRow,
    placement: Placement,
) -> dict[str, Any]:
    result = placement.result
    location = None
    if result is not None:
        location = WKTElement(f"POINT({result.lon} {result.lat})", srid=4326)
    return {
        "account_id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "account_key": row.account_key,
        "debtor_name": row.debtor_name,
        "balance_overdue": row.balance_overdue,
        "currency": currency,
        "days_past_due": row.days_past_due,
        "street": row.street,
        "exterior_number": row.exterior_number,
        "interior_number": row.interior_number,
        "colonia": row.colonia,
        "municipality": row.municipality,
        "state": row.state,
        "postal_code": row.postal_code,
        "cross_streets": row.cross_streets,
        "address_references": row.address_references,
        "credit_number": row.credit_number,
        "last_payment_date": row.last_payment_date,
        "birth_date": row.birth_date,
        "phone": row.phone,
        "location": location,
        "location_precision": result.precision.value if result else None,
        "location_source": result.source.value if result else None,
        "location_status": placement.status,
        "time_zone": placement.time_zone,
        "extra": row.extra,
        "last_upload_id": upload_id,
    }


async def insert_row_issues(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    upload_id: uuid.UUID,
    issues: list[tuple[int, RowIssue]],
) -> None:
    if not issues:
        return
    await session.execute(
        insert(UploadError),
        [
            {
                "upload_id": upload_id,
                "tenant_id": tenant_id,
                "row_number": row_number,
                "column": issue.column,
                "value": issue.value,
                "message": issue.message,
                "severity": issue.severity,
            }
            for row_number, issue in issues
        ],
    )


async def finish_upload(
    session: AsyncSession, upload_id: uuid.UUID, **values: Any
) -> None:
    await session.execute(
        update(Upload)
        .where(Upload.upload_id == upload_id)
        .values(status="completed", finished_at=datetime.now(UTC), **values)
    )


async def get_upload(
    session: AsyncSession, *, tenant_id: uuid.UUID, upload_id: uuid.UUID
) -> Upload | None:
    return await session.scalar(
        select(Upload).where(
            Upload.upload_id == upload_id, Upload.tenant_id == tenant_id
        )
    )


async def list_row_issues(
    session: AsyncSession, *, tenant_id: uuid.UUID, upload_id: uuid.UUID
) -> list[UploadError]:
    result = await session.scalars(
        select(UploadError)
        .where(UploadError.upload_id == upload_id, UploadError.tenant_id == tenant_id)
        .order_by(UploadError.row_number, UploadError.id)
    )
    return list(result)


async def tenant_currency(session: AsyncSession, tenant_id: uuid.UUID) -> str:
    currency = await session.scalar(
        select(common.tenants.c.currency).where(common.tenants.c.tenant_id == tenant_id)
    )
    return currency or "MXN"
