"""HTTP routes of photo evidence and review, built with the service's limits.

The routes are made in `build_proof_routers` so that the photo limits the
settings hold appear in the OpenAPI document.
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime

from shared.api import (
    CurrentAgent,
    ResultsReader,
    RuntimeDep,
    SessionDep,
    VisitsReviewer,
)
from shared.audit import record_read
from shared.errors import (
    ForbiddenError,
    InvalidStateError,
    NotFoundError,
    PayloadTooLargeError,
    UnauthorizedError,
    UnprocessableError,
    problem_responses,
)
from shared.masking import shows_personal_data
from visits import evidence, photo_metadata, review
from visits.images import MEDIA_TYPES
from visits.photo_store import photo_store
from visits.schemas import (
    AppealRequest,
    AppealResolution,
    PhotoOut,
    RejectRequest,
    ReviewOut,
)
from visits.service import visits_settings
from visits.settings import VisitsSettings

PHOTO_PATH = "/agent/visits/{visit_id}/photos"

# A HEIC photo is judged by its brand only, so its bytes may hold anything,
# such as HTML. The browser must keep to the declared type and run nothing.
PHOTO_HEADERS = {
    "Cache-Control": "private, max-age=86400, immutable",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


def photo_body_limit(settings: VisitsSettings) -> dict[tuple[str, str], int]:
    """Return the photo route's body limit, keyed for the body-limit middleware."""
    return {("POST", PHOTO_PATH): settings.photo_max_bytes}


def build_proof_routers(settings: VisitsSettings) -> list[APIRouter]:
    agent = APIRouter(prefix="/agent/visits", tags=["agent"])
    tenant = APIRouter(prefix="/visits", tags=["visits"])
    accepted = [MEDIA_TYPES[kind] for kind in settings.photo_types]
    limits = (
        f"At most {settings.photo_max_bytes} bytes (VISITS_PHOTO_MAX_BYTES); "
        f"{', '.join(accepted)}, judged from the bytes whatever the "
        "Content-Type says."
    )

    @agent.post(
        "/{visit_id}/photos",
        summary="Upload a photo taken at the door",
        description=(
            "The body is the image file itself, as a phone's background "
            "upload sends a file, with any Content-Type. " + limits + " The "
            "same bytes sent again for the visit return the first record with "
            "status 200. Cite the returned photo_id in the result's photo_ids."
        ),
        status_code=status.HTTP_201_CREATED,
        response_model=PhotoOut,
        responses={
            200: {"model": PhotoOut, "description": "These bytes were stored before"},
            **problem_responses(
                UnauthorizedError,
                NotFoundError,
                InvalidStateError,
                PayloadTooLargeError,
                evidence.UnsupportedImageError,
            ),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    media: {
                        "schema": {
                            "type": "string",
                            "format": "binary",
                            "maxLength": settings.photo_max_bytes,
                        }
                    }
                    for media in [*accepted, "application/octet-stream"]
                },
            },
            "x-max-bytes": settings.photo_max_bytes,
            "x-accepted-types": accepted,
        },
    )
    async def upload_photo(
        visit_id: UUID,
        request: Request,
        agent: CurrentAgent,
        session: SessionDep,
        runtime: RuntimeDep,
        device_time: Annotated[
            AwareDatetime | None,
            Query(
                description=(
                    "The device's time at upload, with its UTC offset; it places "
                    "an EXIF time that carries no offset."
                )
            ),
        ] = None,
    ) -> JSONResponse:
        data = await request.body()
        status_code, photo = await evidence.upload_photo(
            session,
            photo_store(runtime),
            visits_settings(runtime),
            agent_id=agent.agent_id,
            visit_id=visit_id,
            data=data,
            device_time=device_time,
        )
        return JSONResponse(photo.model_dump(mode="json"), status_code=status_code)

    @agent.get(
        "/{visit_id}/review",
        summary="Read the director's rejection of a visit and its appeal",
        response_model=ReviewOut,
        responses=problem_responses(UnauthorizedError, NotFoundError),
    )
    async def get_review(
        visit_id: UUID, agent: CurrentAgent, session: SessionDep
    ) -> ReviewOut:
        return await review.agent_review(
            session, agent_id=agent.agent_id, visit_id=visit_id
        )

    @agent.post(
        "/{visit_id}/appeal",
        summary="Appeal the rejection of a visit, once",
        status_code=status.HTTP_201_CREATED,
        response_model=ReviewOut,
        responses=problem_responses(
            UnauthorizedError, NotFoundError, InvalidStateError, UnprocessableError
        ),
    )
    async def appeal(
        visit_id: UUID,
        body: AppealRequest,
        agent: CurrentAgent,
        session: SessionDep,
        runtime: RuntimeDep,
    ) -> ReviewOut:
        return await review.appeal_rejection(
            session, runtime, agent_id=agent.agent_id, visit_id=visit_id, text=body.text
        )

    @tenant.get(
        "/{visit_id}/photos/{photo_id}",
        summary="Download a photo of a visit",
        response_class=Response,
        responses={
            200: {"content": {media: {} for media in MEDIA_TYPES.values()}},
            **problem_responses(UnauthorizedError, ForbiddenError, NotFoundError),
        },
    )
    async def get_photo(
        visit_id: UUID,
        photo_id: UUID,
        tenant: ResultsReader,
        session: SessionDep,
        runtime: RuntimeDep,
    ) -> Response:
        media_type, data = await evidence.tenant_photo(
            session,
            photo_store(runtime),
            tenant_id=tenant.tenant_id,
            visit_id=visit_id,
            photo_id=photo_id,
        )
        if not shows_personal_data(tenant):
            # The API rounds the photo's position for this caller; the file
            # must not carry it in full.
            data = _without_position(media_type, data)
        # A photo from the door often shows the debtor's home or the debtor.
        await record_read(
            runtime,
            tenant_id=tenant.tenant_id,
            actor=tenant.caller,
            resource="visit_photo",
            resource_ids=[photo_id],
            visit_id=visit_id,
        )
        return Response(data, media_type=media_type, headers=PHOTO_HEADERS)

    @tenant.post(
        "/{visit_id}/reject",
        summary="Reject a completed visit within the review window",
        description=(
            f"Allowed for {settings.review_window_hours} hours after completion "
            "(VISITS_REVIEW_WINDOW_HOURS). The visit is not paid and ingest "
            "requests another visit to the account; a 409 names the state or "
            "the end of the window."
        ),
        status_code=status.HTTP_201_CREATED,
        response_model=ReviewOut,
        responses=problem_responses(
            UnauthorizedError, NotFoundError, InvalidStateError, UnprocessableError
        ),
    )
    async def reject(
        visit_id: UUID,
        body: RejectRequest,
        tenant: VisitsReviewer,
        session: SessionDep,
        runtime: RuntimeDep,
    ) -> ReviewOut:
        return await review.reject_visit(
            session,
            runtime,
            tenant_id=tenant.tenant_id,
            visit_id=visit_id,
            reason=body.reason,
        )

    @tenant.post(
        "/{visit_id}/appeal/resolve",
        summary="Uphold or overturn the agent's appeal",
        response_model=ReviewOut,
        responses=problem_responses(
            UnauthorizedError, NotFoundError, InvalidStateError, UnprocessableError
        ),
    )
    async def resolve(
        visit_id: UUID,
        body: AppealResolution,
        tenant: VisitsReviewer,
        session: SessionDep,
        runtime: RuntimeDep,
    ) -> ReviewOut:
        return await review.resolve_appeal(
            session,
            runtime,
            tenant_id=tenant.tenant_id,
            visit_id=visit_id,
            outcome=body.outcome,
            note=body.note,
        )

    return [agent, tenant]


def _without_position(media_type: str, data: bytes) -> bytes:
    """Return the photo without EXIF and XMP, or refuse what cannot be cleaned."""
    try:
        cleaned = photo_metadata.without_metadata(media_type, data)
    except photo_metadata.UnreadableContainerError:
        cleaned = None
    if cleaned is None:
        raise ForbiddenError(
            f"this photo ({media_type}) keeps its GPS position in a form the "
            "service cannot remove, so it is shown only to callers with the "
            "personal:read scope; ask the tenant's administrator",
            missing_scopes=["personal:read"],
        )
    return cleaned
