"""Uploads processed in the background: accepted at once, followed by polling.

An accepted upload is queued in memory with its file and processed by
`run_upload_jobs`, a supervised task of the service. The file is not kept
in the database, so a job whose process stopped cannot resume. Each
process marks its running jobs alive every `upload_heartbeat_seconds`;
every process fails the jobs whose heartbeat is older than
`upload_stale_seconds`, so a stopped process's jobs end failed while
another process's live jobs go on. The director uploads the file again.
"""

import asyncio
import uuid
from dataclasses import dataclass

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
    "the service process that held this upload stopped while it was waiting or "
    "being processed, so nothing of it was stored; upload the file again"
)
# Seconds a stopping service spends marking one upload failed.
STOP_TIMEOUT_SECONDS = 5.0
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


def worker_id(runtime: ServiceRuntime) -> uuid.UUID:
    """Return this process's id as the holder of background uploads."""
    current = runtime.state.get("upload_worker_id")
    if current is None:
        current = uuid.uuid4()
        runtime.state["upload_worker_id"] = current
    assert isinstance(current, uuid.UUID)
    return current


def _held(runtime: ServiceRuntime) -> set[uuid.UUID]:
    """Return the ids of the uploads whose file is in this process's memory."""
    in_memory = runtime.state.setdefault("upload_jobs_in_memory", set())
    assert isinstance(in_memory, set)
    return in_memory


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
                worker_id=worker_id(runtime),
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
        _held(runtime).add(job.upload_id)
        _queue(runtime).put_nowait(job)
        log.info(
            "upload.queued", tenant_id=str(tenant_id), upload_id=str(job.upload_id)
        )
    return uuid.UUID(body["upload_id"])


async def run_upload_jobs(runtime: ServiceRuntime) -> None:
    """Process queued uploads, `upload_workers` at a time, while the service runs.

    With more than one worker, a small upload queued behind a large one
    does not wait for it. Each running upload keeps its file and a chunk of
    its rows in memory, so the memory a process needs grows with the worker
    count.
    """
    settings = runtime.settings
    assert isinstance(settings, IngestSettings)
    queue = _queue(runtime)

    async def work() -> None:
        while True:
            job = await queue.get()
            await run_job(runtime, job)

    # A worker that crashes cancels the others, and the supervisor starts
    # them all again; the jobs they had go stale and are failed.
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(settings.upload_workers):
                group.create_task(work())
    except asyncio.CancelledError:
        # The service is stopping: the jobs still queued are lost with it.
        for upload_id in sorted(_held(runtime)):
            await _fail_on_stop(runtime, upload_id)
        raise


async def keep_upload_jobs_alive(runtime: ServiceRuntime) -> None:
    """Beat for this process's running uploads and fail the stale ones of others.

    Only the uploads whose file is still in this process's memory get a
    beat, so a job the process lost goes stale too. A process that starts
    fails nothing at once: the jobs of the process it replaces go stale and
    are failed by the first sweep after that.
    """
    settings = runtime.settings
    assert isinstance(settings, IngestSettings)
    while True:
        async with runtime.sessionmaker() as session, session.begin():
            await job_repository.beat(session, sorted(_held(runtime)))
            failed = await job_repository.fail_stale(
                session,
                stale_seconds=settings.upload_stale_seconds,
                message=INTERRUPTED_MESSAGE,
            )
        for upload_id in failed:
            log.warning("upload.interrupted", upload_id=str(upload_id))
        await asyncio.sleep(settings.upload_heartbeat_seconds)


async def run_job(runtime: ServiceRuntime, job: UploadJob) -> None:
    """Parse, geocode and store one upload; a failure marks the upload failed.

    However it ends, the process stops beating for the upload, so an upload
    left running by a crash goes stale and fails.
    """
    try:
        await _run_held_job(runtime, job)
    finally:
        _held(runtime).discard(job.upload_id)


async def _run_held_job(runtime: ServiceRuntime, job: UploadJob) -> None:
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
        except asyncio.CancelledError:
            await _fail_on_stop(runtime, job.upload_id)
            raise
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
    opened = await service.open_upload(
        session,
        tenant_id=job.tenant_id,
        filename=job.filename,
        content=job.content,
        max_rows=job.max_rows,
        mapping=job.mapping,
        progress=progress,
    )
    async with session.begin():
        await service.store_file(
            runtime,
            session,
            tenant_id=job.tenant_id,
            upload_id=job.upload_id,
            opened=opened,
            locator=await get_locator(runtime, settings),
            progress=progress,
            on_error=job.on_error,
            filename=job.filename,
        )


async def _fail_on_stop(runtime: ServiceRuntime, upload_id: uuid.UUID) -> None:
    """Mark an upload failed while the service stops, so its status is final at once.

    A failure here is left to the heartbeat sweep of another process.
    """
    try:
        async with asyncio.timeout(STOP_TIMEOUT_SECONDS):
            async with runtime.sessionmaker() as session, session.begin():
                await job_repository.mark_failed(
                    session, upload_id, INTERRUPTED_MESSAGE
                )
    except Exception as error:
        log.warning(
            "upload.stop_mark_failed",
            upload_id=str(upload_id),
            error_type=type(error).__name__,
        )
        return
    log.info("upload.interrupted", upload_id=str(upload_id))


async def _fail(runtime: ServiceRuntime, job: UploadJob, message: str) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        await job_repository.mark_failed(session, job.upload_id, message)
    log.info(
        "upload.failed", tenant_id=str(job.tenant_id), upload_id=str(job.upload_id)
    )
