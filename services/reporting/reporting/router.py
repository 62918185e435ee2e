"""HTTP routes of reporting: figures, the live stream and webhook subscriptions."""

import uuid
from typing import Annotated, cast

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse

from reporting import service, stream, webhooks
from reporting.delivery import host_resolver
from reporting.schemas import (
    CampaignList,
    CampaignSummary,
    DeliveryAttemptList,
    RedeliveriesQueued,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookReplay,
    WebhookSecret,
    WebhookUpdate,
)
from reporting.settings import ReportingSettings
from shared.api import (
    IdempotencyKey,
    ResultsReader,
    RuntimeDep,
    SessionDep,
    WebhooksManager,
)
from shared.errors import (
    ConflictError,
    NotFoundError,
    UnauthorizedError,
    UnprocessableError,
    problem_responses,
)
from shared.idempotency import fingerprint, run_idempotent
from shared.masking import shows_personal_data

router = APIRouter()

MAX_OFFSET = 1_000_000

EVENT_STREAM = {"content": {"text/event-stream": {}}, "description": "SSE stream"}


@router.get(
    "/campaigns",
    response_model=CampaignList,
    tags=["figures"],
    summary="The tenant's campaigns with their figures",
    responses=problem_responses(UnauthorizedError),
)
async def list_campaigns(
    session: SessionDep,
    tenant: ResultsReader,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[
        int,
        Query(ge=0, le=MAX_OFFSET, description=f"Items to skip, at most {MAX_OFFSET}."),
    ] = 0,
) -> CampaignList:
    return await service.list_campaigns(
        session, tenant.tenant_id, limit=limit, offset=offset
    )


@router.get(
    "/campaigns/{campaign_id}/summary",
    response_model=CampaignSummary,
    tags=["figures"],
    summary="Figures of one campaign, computed now from its visits",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def campaign_summary(
    campaign_id: uuid.UUID, session: SessionDep, tenant: ResultsReader
) -> CampaignSummary:
    return await service.campaign_summary(session, tenant.tenant_id, campaign_id)


@router.get(
    "/stream",
    tags=["stream"],
    summary="Live Server-Sent Events of the tenant's visits, promises and campaigns",
    description="Each event's id is its sequence number in the tenant's stream. "
    "Reconnect with `Last-Event-ID: N` to get every event after N, in order; "
    "without it the stream starts from now. `Last-Event-ID: 0` replays all. "
    "Without the personal:read scope, phones and names in events are masked; "
    "webhooks always carry them in full. The stream ends with a `stream.ended` "
    "event once the API key is revoked or the access token expires.",
    response_class=EventSourceResponse,
    responses={200: EVENT_STREAM, **problem_responses(UnauthorizedError)},
)
async def live_stream(
    runtime: RuntimeDep,
    tenant: ResultsReader,
    campaign_id: uuid.UUID | None = None,
    types: Annotated[
        str | None,
        Query(description="Comma-separated event names, e.g. visit.completed"),
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    settings = cast(ReportingSettings, runtime.settings)
    event_types = stream.parse_event_types(types)
    after = await stream.start_seq(
        runtime, tenant.tenant_id, stream.parse_last_event_id(last_event_id)
    )
    events = stream.stream_events(
        runtime,
        tenant.tenant_id,
        after_seq=after,
        campaign_id=campaign_id,
        event_types=event_types,
        mask_personal=not shows_personal_data(tenant),
        caller=tenant,
    )
    return EventSourceResponse(events, ping=settings.stream_keepalive_seconds)


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    tags=["webhooks"],
    summary="Subscribe a URL to events; the signing secret is returned only here",
    responses=problem_responses(UnauthorizedError, UnprocessableError, ConflictError),
)
async def create_webhook(
    request: Request,
    body: WebhookCreate,
    runtime: RuntimeDep,
    session: SessionDep,
    tenant: WebhooksManager,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    await webhooks.check_url(
        body.url, cast(ReportingSettings, runtime.settings), host_resolver(runtime)
    )

    async def action() -> tuple[int, object]:
        created = await webhooks.create_subscription(session, tenant.tenant_id, body)
        return status.HTTP_201_CREATED, created.model_dump(mode="json")

    status_code, document = await run_idempotent(
        session,
        runtime.tables,
        tenant_id=tenant.tenant_id,
        key=idempotency_key,
        request_fingerprint=fingerprint(request.url.path, body.model_dump_json()),
        action=action,
    )
    return JSONResponse(document, status_code=status_code)


@router.get(
    "/webhooks",
    response_model=WebhookList,
    tags=["webhooks"],
    summary="The tenant's webhook subscriptions, without secrets",
    responses=problem_responses(UnauthorizedError),
)
async def list_webhooks(session: SessionDep, tenant: WebhooksManager) -> WebhookList:
    return await webhooks.list_subscriptions(session, tenant.tenant_id)


@router.get(
    "/webhooks/{subscription_id}",
    response_model=Webhook,
    tags=["webhooks"],
    summary="One webhook subscription, without its secret",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def get_webhook(
    subscription_id: uuid.UUID, session: SessionDep, tenant: WebhooksManager
) -> Webhook:
    return await webhooks.get_subscription(session, tenant.tenant_id, subscription_id)


@router.delete(
    "/webhooks/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["webhooks"],
    summary="Disable a subscription and cancel its pending deliveries",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def delete_webhook(
    subscription_id: uuid.UUID, session: SessionDep, tenant: WebhooksManager
) -> Response:
    await webhooks.disable_subscription(session, tenant.tenant_id, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/webhooks/{subscription_id}/deliveries",
    response_model=DeliveryAttemptList,
    tags=["webhooks"],
    summary="Delivery attempts of a subscription, newest first",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def list_deliveries(
    subscription_id: uuid.UUID,
    session: SessionDep,
    tenant: WebhooksManager,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveryAttemptList:
    return await webhooks.list_attempts(
        session, tenant.tenant_id, subscription_id, limit=limit
    )


@router.patch(
    "/webhooks/{subscription_id}",
    response_model=Webhook,
    tags=["webhooks"],
    summary="Change a subscription's URL, event types or description, or "
    "enable and disable it",
    responses=problem_responses(UnauthorizedError, NotFoundError, UnprocessableError),
)
async def update_webhook(
    subscription_id: uuid.UUID,
    body: WebhookUpdate,
    runtime: RuntimeDep,
    session: SessionDep,
    tenant: WebhooksManager,
) -> Webhook:
    return await webhooks.update_subscription(
        session,
        tenant.tenant_id,
        subscription_id,
        body,
        settings=cast(ReportingSettings, runtime.settings),
        resolve=host_resolver(runtime),
    )


@router.post(
    "/webhooks/{subscription_id}/rotate-secret",
    response_model=WebhookSecret,
    tags=["webhooks"],
    summary="Replace the signing secret; the old one keeps signing for a while",
    description="Returns the new secret, only here. Until "
    "`previous_secret_expires_at` every delivery carries two signatures, one "
    "per secret, so receivers can switch at their own pace.",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def rotate_webhook_secret(
    subscription_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    tenant: WebhooksManager,
) -> WebhookSecret:
    settings = cast(ReportingSettings, runtime.settings)
    return await webhooks.rotate_secret(
        session,
        tenant.tenant_id,
        subscription_id,
        overlap_seconds=settings.webhook_secret_overlap_seconds,
    )


@router.post(
    "/webhooks/{subscription_id}/messages/{msg_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RedeliveriesQueued,
    tags=["webhooks"],
    summary="Send one message again, with its original webhook-id",
    responses=problem_responses(UnauthorizedError, NotFoundError, ConflictError),
)
async def redeliver_webhook_message(
    subscription_id: uuid.UUID,
    msg_id: Annotated[str, Path(min_length=1, max_length=64)],
    session: SessionDep,
    tenant: WebhooksManager,
) -> RedeliveriesQueued:
    return await webhooks.redeliver_message(
        session, tenant.tenant_id, subscription_id, msg_id
    )


@router.post(
    "/webhooks/{subscription_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RedeliveriesQueued,
    tags=["webhooks"],
    summary="Send again every message of the subscription's types in a time range",
    responses=problem_responses(
        UnauthorizedError, NotFoundError, ConflictError, UnprocessableError
    ),
)
async def replay_webhook_messages(
    subscription_id: uuid.UUID,
    body: WebhookReplay,
    runtime: RuntimeDep,
    session: SessionDep,
    tenant: WebhooksManager,
) -> RedeliveriesQueued:
    return await webhooks.replay_messages(
        session,
        tenant.tenant_id,
        subscription_id,
        body,
        settings=cast(ReportingSettings, runtime.settings),
    )
