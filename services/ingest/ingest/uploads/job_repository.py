"""SQL for upload jobs: states, progress, listings, report cells, settings."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.models import Upload, UploadRowCells, UploadSettings

RUNNING_STATES = ("queued", "processing")


def _failed(message: str, finished_at: Any) -> dict[str, Any]:
    """Return the columns of an upload that failed.

    A failed upload stored nothing, since its rows are written in one
    transaction, so the valid and invalid counts its progress showed are
    cleared. `rows_read` stays: it tells how far the file was read.
    """
    return {
        "status": "failed",
        "failure_message": message,
        "finished_at": finished_at,
        "rows_total": 0,
        "rows_valid": 0,
        "rows_invalid": 0,
    }


async def insert_queued_upload(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    filename: str,
    file_format: str,
    on_error: str,
    worker_id: uuid.UUID,
) -> Upload:
    upload = Upload(
        upload_id=uuid.uuid4(),
        tenant_id=tenant_id,
        filename=filename,
        file_format=file_format,
        status="queued",
        on_error=on_error,
        rows_total=0,
        rows_valid=0,
        rows_invalid=0,
        accounts_created=0,
        accounts_updated=0,
        created_at=datetime.now(UTC),
        worker_id=worker_id,
        heartbeat_at=func.now(),
    )
    session.add(upload)
    await session.flush()
    return upload


async def mark_processing(session: AsyncSession, upload_id: uuid.UUID) -> bool:
    """Move a queued upload to processing; False when it is no longer queued."""
    result = await session.execute(
        update(Upload)
        .where(Upload.upload_id == upload_id, Upload.status == "queued")
        .values(status="processing")
        .returning(Upload.upload_id)
    )
    return result.first() is not None


async def write_progress(
    session: AsyncSession,
    upload_id: uuid.UUID,
    rows_read: int,
    rows_valid: int,
    rows_invalid: int,
    percent: int,
) -> None:
    await session.execute(
        update(Upload)
        .where(Upload.upload_id == upload_id, Upload.status == "processing")
        .values(
            rows_read=rows_read,
            rows_valid=rows_valid,
            rows_invalid=rows_invalid,
            progress_percent=percent,
        )
    )


async def mark_failed(
    session: AsyncSession, upload_id: uuid.UUID, message: str
) -> None:
    await session.execute(
        update(Upload)
        .where(Upload.upload_id == upload_id, Upload.status.in_(RUNNING_STATES))
        .values(_failed(message, datetime.now(UTC)))
    )


async def beat(session: AsyncSession, upload_ids: list[uuid.UUID]) -> int:
    """Mark the given uploads alive while they are queued or processing.

    Return how many were.
    """
    if not upload_ids:
        return 0
    result = await session.execute(
        update(Upload)
        .where(Upload.upload_id.in_(upload_ids), Upload.status.in_(RUNNING_STATES))
        .values(heartbeat_at=func.now())
    )
    return result.rowcount or 0


async def fail_stale(
    session: AsyncSession, *, stale_seconds: float, message: str
) -> list[uuid.UUID]:
    """Mark failed the running uploads whose worker has not beaten for a while.

    The database's clock judges staleness, so processes whose clocks differ
    agree on which jobs are stale.
    """
    stale_before = func.now() - timedelta(seconds=stale_seconds)
    result = await session.execute(
        update(Upload)
        .where(
            Upload.status.in_(RUNNING_STATES),
            or_(Upload.heartbeat_at.is_(None), Upload.heartbeat_at < stale_before),
        )
        .values(_failed(message, func.now()))
        .returning(Upload.upload_id)
    )
    return list(result.scalars())


async def finish_job(
    session: AsyncSession,
    upload_id: uuid.UUID,
    *,
    status: str,
    on_error: str,
    headers: list[str],
) -> None:
    await session.execute(
        update(Upload)
        .where(Upload.upload_id == upload_id)
        .values(
            status=status,
            on_error=on_error,
            headers=headers,
            rows_read=Upload.rows_total,
            progress_percent=100,
        )
    )


async def page_uploads(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> list[Upload]:
    """List uploads newest first; `before` is the (created_at, id) cursor."""
    query = select(Upload).where(Upload.tenant_id == tenant_id)
    if before is not None:
        created_at, upload_id = before
        query = query.where(
            or_(
                Upload.created_at < created_at,
                and_(Upload.created_at == created_at, Upload.upload_id < upload_id),
            )
        )
    result = await session.scalars(
        query.order_by(Upload.created_at.desc(), Upload.upload_id.desc()).limit(limit)
    )
    return list(result)


async def count_uploads(session: AsyncSession, *, tenant_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.count()).select_from(Upload).where(Upload.tenant_id == tenant_id)
    )
    return total or 0


async def insert_row_cells(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    upload_id: uuid.UUID,
    rows: dict[int, list[str | None]],
) -> None:
    if not rows:
        return
    await session.execute(
        insert(UploadRowCells),
        [
            {
                "upload_id": upload_id,
                "tenant_id": tenant_id,
                "row_number": row_number,
                "cells": cells,
            }
            for row_number, cells in rows.items()
        ],
    )


async def list_row_cells(
    session: AsyncSession, *, tenant_id: uuid.UUID, upload_id: uuid.UUID
) -> dict[int, list[str | None]]:
    result = await session.execute(
        select(UploadRowCells.row_number, UploadRowCells.cells).where(
            UploadRowCells.upload_id == upload_id,
            UploadRowCells.tenant_id == tenant_id,
        )
    )
    return {row.row_number: row.cells for row in result}


async def get_on_error(session: AsyncSession, tenant_id: uuid.UUID) -> str | None:
    return await session.scalar(
        select(UploadSettings.on_error).where(UploadSettings.tenant_id == tenant_id)
    )


async def put_on_error(
    session: AsyncSession, tenant_id: uuid.UUID, on_error: str
) -> None:
    values: dict[str, Any] = {"tenant_id": tenant_id, "on_error": on_error}
    statement = pg_insert(UploadSettings).values(values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id"],
            set_={"on_error": on_error, "updated_at": func.now()},
        )
    )
