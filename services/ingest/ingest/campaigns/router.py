from uuid import UUID

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from ingest.campaigns import service
from ingest.campaigns.schemas import CampaignCreate, CampaignOut, LaunchOut
from ingest.models import common
from shared.api import CurrentTenant, IdempotencyKey, RuntimeDep, SessionDep
from shared.errors import (
    InvalidStateError,
    NotFoundError,
    UnauthorizedError,
    problem_responses,
)
from shared.idempotency import IdempotencyKeyReusedError, fingerprint, run_idempotent

router = APIRouter(prefix="/campaigns", tags=["campaigns"])


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
    tenant: CurrentTenant,
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


@router.get(
    "", summary="The tenant's campaigns", responses=problem_responses(UnauthorizedError)
)
async def list_campaigns(
    tenant: CurrentTenant, session: SessionDep
) -> list[CampaignOut]:
    return await service.list_campaigns(session, tenant_id=tenant.tenant_id)


@router.get(
    "/{campaign_id}",
    summary="One campaign",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def get_campaign(
    campaign_id: UUID, tenant: CurrentTenant, session: SessionDep
) -> CampaignOut:
    return await service.get_campaign(
        session, tenant_id=tenant.tenant_id, campaign_id=campaign_id
    )


@router.post(
    "/{campaign_id}/launch",
    summary="Launch a draft: one visit request per selected account with coordinates",
    responses=problem_responses(UnauthorizedError, NotFoundError, InvalidStateError),
)
async def launch_campaign(
    campaign_id: UUID,
    tenant: CurrentTenant,
    runtime: RuntimeDep,
    session: SessionDep,
) -> LaunchOut:
    return await service.launch_campaign(
        runtime, session, tenant_id=tenant.tenant_id, campaign_id=campaign_id
    )
