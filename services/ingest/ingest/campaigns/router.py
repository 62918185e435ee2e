from uuid import UUID

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from ingest.campaigns import lifecycle, service
from ingest.campaigns.schemas import (
    CampaignCreate,
    CampaignOut,
    LaunchOut,
    PreviewOut,
    Selection,
    TransitionOut,
)
from ingest.campaigns.states import CANCEL, COMPLETE, PAUSE
from ingest.models import common
from shared.api import (
    CampaignsReader,
    CampaignsWriter,
    IdempotencyKey,
    RuntimeDep,
    SessionDep,
)
from shared.errors import (
    InvalidStateError,
    NotFoundError,
    UnauthorizedError,
    problem_responses,
)
from shared.idempotency import IdempotencyKeyReusedError, fingerprint, run_idempotent

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

STATE_CHANGE_ERRORS = problem_responses(
    UnauthorizedError, NotFoundError, InvalidStateError
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a draft campaign: a selection of accounts and the visit brief",
    responses=problem_responses(
        UnauthorizedError,
        service.UnknownAccountsError,
        IdempotencyKeyReusedError,
    ),
)
async def create_campaign(
    body: CampaignCreate,
    request: Request,
    tenant: CampaignsWriter,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> CampaignOut:
    async def create() -> tuple[int, object]:
        campaign = await service.create_campaign(
            session, tenant_id=tenant.tenant_id, request=body
        )
        return status.HTTP_201_CREATED, campaign.model_dump(mode="json")

    code, payload = await run_idempotent(
        session,
        common,
        tenant_id=tenant.tenant_id,
        key=idempotency_key,
        request_fingerprint=fingerprint(
            "POST", request.url.path, body.model_dump_json()
        ),
        action=create,
    )
    return JSONResponse(payload, status_code=code)  # type: ignore[return-value]


@router.post(
    "/preview",
    summary="Count a selection: accounts, overdue balance, and flagged exclusions",
    responses=problem_responses(UnauthorizedError),
)
async def preview_selection(
    body: Selection, tenant: CampaignsReader, session: SessionDep
) -> PreviewOut:
    return await service.preview_selection(
        session, tenant_id=tenant.tenant_id, selection=body
    )


@router.get(
    "", summary="The tenant's campaigns", responses=problem_responses(UnauthorizedError)
)
async def list_campaigns(
    tenant: CampaignsReader, session: SessionDep
) -> list[CampaignOut]:
    return await service.list_campaigns(session, tenant_id=tenant.tenant_id)


@router.get(
    "/{campaign_id}",
    summary="One campaign",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def get_campaign(
    campaign_id: UUID, tenant: CampaignsReader, session: SessionDep
) -> CampaignOut:
    return await service.get_campaign(
        session, tenant_id=tenant.tenant_id, campaign_id=campaign_id
    )


@router.get(
    "/{campaign_id}/preview",
    summary="Count a campaign's accounts as they stand now, flags included",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def preview_campaign(
    campaign_id: UUID, tenant: CampaignsReader, session: SessionDep
) -> PreviewOut:
    return await service.preview_campaign(
        session, tenant_id=tenant.tenant_id, campaign_id=campaign_id
    )


@router.post(
    "/{campaign_id}/launch",
    summary="Launch a draft: one visit request per selected account with coordinates",
    responses=STATE_CHANGE_ERRORS,
)
async def launch_campaign(
    campaign_id: UUID,
    tenant: CampaignsWriter,
    runtime: RuntimeDep,
    session: SessionDep,
) -> LaunchOut:
    return await lifecycle.launch_campaign(
        runtime, session, tenant_id=tenant.tenant_id, campaign_id=campaign_id
    )


@router.post(
    "/{campaign_id}/pause",
    summary="Pause a launched campaign and withdraw the visits not yet done",
    responses=STATE_CHANGE_ERRORS,
)
async def pause_campaign(
    campaign_id: UUID, tenant: CampaignsWriter, runtime: RuntimeDep, session: SessionDep
) -> TransitionOut:
    return await lifecycle.stop_campaign(
        runtime,
        session,
        tenant_id=tenant.tenant_id,
        campaign_id=campaign_id,
        transition=PAUSE,
    )


@router.post(
    "/{campaign_id}/resume",
    summary="Resume a paused campaign; withdrawn visits are requested again",
    responses=STATE_CHANGE_ERRORS,
)
async def resume_campaign(
    campaign_id: UUID, tenant: CampaignsWriter, runtime: RuntimeDep, session: SessionDep
) -> TransitionOut:
    return await lifecycle.resume_campaign(
        runtime, session, tenant_id=tenant.tenant_id, campaign_id=campaign_id
    )


@router.post(
    "/{campaign_id}/cancel",
    summary="Cancel a campaign; visits not yet done are withdrawn",
    responses=STATE_CHANGE_ERRORS,
)
async def cancel_campaign(
    campaign_id: UUID, tenant: CampaignsWriter, runtime: RuntimeDep, session: SessionDep
) -> TransitionOut:
    return await lifecycle.stop_campaign(
        runtime,
        session,
        tenant_id=tenant.tenant_id,
        campaign_id=campaign_id,
        transition=CANCEL,
    )


@router.post(
    "/{campaign_id}/complete",
    summary="Close a campaign as completed; visits not yet done are withdrawn",
    responses=STATE_CHANGE_ERRORS,
)
async def complete_campaign(
    campaign_id: UUID, tenant: CampaignsWriter, runtime: RuntimeDep, session: SessionDep
) -> TransitionOut:
    return await lifecycle.stop_campaign(
        runtime,
        session,
        tenant_id=tenant.tenant_id,
        campaign_id=campaign_id,
        transition=COMPLETE,
    )
