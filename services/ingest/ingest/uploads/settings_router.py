"""The tenant's upload defaults."""

from fastapi import APIRouter

from ingest.uploads import job_repository
from ingest.uploads.schemas import OnError, UploadSettingsIn, UploadSettingsOut
from shared.api import SessionDep, SettingsReader, SettingsWriter
from shared.errors import UnauthorizedError, problem_responses

router = APIRouter(prefix="/upload-settings", tags=["uploads"])


@router.get(
    "",
    summary="The tenant's upload defaults",
    responses=problem_responses(UnauthorizedError),
)
async def get_upload_settings(
    tenant: SettingsReader, session: SessionDep
) -> UploadSettingsOut:
    async with session.begin():
        saved = await job_repository.get_on_error(session, tenant.tenant_id)
    return UploadSettingsOut(on_error=OnError(saved or OnError.STORE_VALID))


@router.put(
    "",
    summary="Set the policy for uploads that do not send `on_error`",
    responses=problem_responses(UnauthorizedError),
)
async def put_upload_settings(
    body: UploadSettingsIn, tenant: SettingsWriter, session: SessionDep
) -> UploadSettingsOut:
    async with session.begin():
        await job_repository.put_on_error(session, tenant.tenant_id, body.on_error)
    return UploadSettingsOut(on_error=body.on_error)
