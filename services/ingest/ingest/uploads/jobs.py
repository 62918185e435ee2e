"""Uploads processed in the background: accepted at once, followed by polling.

An accepted upload is queued in memory with its file and processed by
`run_upload_jobs`, a supervised task of the service. The file is not kept
in the database, so a job that a stopped service left queued or processing
cannot resume: the next start marks it failed and the director uploads
the file again.
"""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.dependencies import get_locator
from ingest.mappings.service import InvalidMappingError
from ingest.models import common
from ingest.settings import IngestSettings
from ingest.uploads import job_repository, service
from ingest.uploads.parsing import detect_format
from ingest.uploads.progress import UploadProgress, write_progress_periodically
from ingest.uploads.schemas import OnError
from shared.idempotency import run_idempotent
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)

INTERRUPTED_MESSAGE = (
    "the service stopped while this upload was waiting or being processed, so "
    "nothing of it was stored; upload the file again"
)
UNEXPECTED_MESSAGE = (
    "the upload failed on an unexpected error and nothing of it was stored; "
    "upload the file again, and report the upload id if it fails again"
)


@dataclass(frozen=True)
class UploadJob:
    upload_id: uuid.UUID
    tenant_id: uuid.UUID
    filename: str
    content: bytes
    max_rows: int
    mapping: dict[str, str] | None
    on_error: OnError


def _queue(runtime: ServiceRuntime) -> "asyncio.Queue[UploadJob]":
    queue = runtime.state.get("upload_jobs")
    if queue is None:
        queue = asyncio.Queue()
        runtime.state["upload_jobs"] = queue
    assert isinstance(queue, asyncio.Queue)
    return queue


async def accept_upload(
    runtime: ServiceRuntime,
    *,
    tenant_id: uuid.UUID,
    filename: str,
    content: bytes,
    max_rows: int,
    mapping: dict[str, str] | None,
    on_error: OnError | None,
    idempotency_key: str | None,
) -> uuid.UUID:
    """Record a queued upload and hand its file to the background worker.

    A replayed Idempotency-Key returns the first upload's id and queues
    nothing.
    """
    accepted: list[UploadJob] = []
    async with runtime.sessionmaker() as session:
        policy = await service.resolve_on_error(session, tenant_id, on_error)

        async def create() -> tuple[int, dict[str, str]]:
            upload = await job_repository.insert_queued_upload(
                session,
                tenant_id=tenant_id,
                filename=filename,
                file_format=detect_format(content),
                on_error=policy.value,
            )
            job = UploadJob(
                upload.upload_id,
                tenant_id,
                filename,
                content,
                max_rows,
                mapping,
                policy,
            )
            accepted.append(job)
            return 202, {"upload_id": str(upload.upload_id)}

        _, body = await run_idempotent(
            session,
            common,
            tenant_id=tenant_id,
            key=idempotency_key,
            request_fingerprint=service.upload_fingerprint(
                filename, content, mapping, policy
            ),
            action=create,
        )
    for job in accepted:
        _queue(runtime).put_nowait(job)
        log.info(
            "upload.queued", tenant_id=str(tenant_id), upload_id=str(job.upload_id)
        )
    return uuid.UUID(body["upload_id"])


async def run_upload_jobs(runtime: ServiceRuntime) -> None:
    """Process queued uploads one at a time, for as long as the service runs.

    NOTE: one worker per process means a large upload delays every upload
    queued after it, across tenants.
    """
    if not runtime.state.get("upload_jobs_recovered"):
        await _fail_interrupted(runtime, started_at=datetime.now(UTC))
        runtime.state["upload_jobs_recovered"] = True
    queue = _queue(runtime)
    while True:
        job = await queue.get()
        await run_job(runtime, job)


async def _fail_interrupted(runtime: ServiceRuntime, *, started_at: datetime) -> None:
    # NOTE: with several ingest processes on one database, a process that
    # starts also fails the jobs another process is still running. A worker
    # id on each upload would limit this to the process's own jobs.
    async with runtime.sessionmaker() as session, session.begin():
        failed = await job_repository.fail_interrupted(
            session, created_before=started_at, message=INTERRUPTED_MESSAGE
        )
    for upload_id in failed:
        log.warning("upload.interrupted", upload_id=str(upload_id))


async def run_job(runtime: ServiceRuntime, job: UploadJob) -> None:
    """Parse, geocode and store one upload; a failure marks the upload failed."""
    settings = runtime.settings
    assert isinstance(settings, IngestSettings)
    async with runtime.sessionmaker() as session:
        async with session.begin():
            if not await job_repository.mark_processing(session, job.upload_id):
                return
        progress = UploadProgress()
        writer = asyncio.create_task(
            write_progress_periodically(
                runtime.sessionmaker,
                job.upload_id,
                progress,
                interval_seconds=settings.upload_progress_seconds,
            )
        )
        try:
            await _process(runtime, settings, session, job, progress)
        except (service.UnreadableUploadError, InvalidMappingError) as error:
            await _fail(runtime, job, error.detail)
        except Exception as error:
            log.exception(
                "upload.job_failed",
                upload_id=str(job.upload_id),
                error_type=type(error).__name__,
            )
            await _fail(runtime, job, UNEXPECTED_MESSAGE)
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
    runtime.relay.notify()


async def _process(
    runtime: ServiceRuntime,
    settings: IngestSettings,
    session: AsyncSession,
    job: UploadJob,
    progress: UploadProgress,
) -> None:
    prepared = await service.prepare_upload(
        session,
        tenant_id=job.tenant_id,
        filename=job.filename,
        content=job.content,
        max_rows=job.max_rows,
        locator=await get_locator(runtime, settings),
        mapping=job.mapping,
        progress=progress,
    )
    async with session.begin():
        await service.store_upload(
            runtime, session, job.tenant_id, job.upload_id, prepared, job.on_error
        )


async def _fail(runtime: ServiceRuntime, job: UploadJob, message: str) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        await job_repository.mark_failed(session, job.upload_id, message)
    log.info(
        "upload.failed", tenant_id=str(job.tenant_id), upload_id=str(job.upload_id)
    )
