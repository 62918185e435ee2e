"""A director's review reaches the live stream, and webhooks may subscribe to it."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from fastapi import FastAPI

from ingest.tenants import CreatedTenant
from reporting.schemas import WebhookCreate
from shared.events.payloads import (
    AppealOutcome,
    Money,
    VisitAppealed,
    VisitAppealResolved,
    VisitRejected,
)
from tests.fixtures.events import publish
from tests.integration.reporting.helpers import serve_http, wait_consumed
from tests.integration.reporting.test_stream import http_client, stream

REVIEW_TYPES = ["visit.rejected", "visit.appealed", "visit.appeal_resolved"]


def review_events(tenant_id: uuid.UUID) -> list:
    ids = {
        "tenant_id": tenant_id,
        "visit_id": uuid.uuid4(),
        "campaign_id": uuid.uuid4(),
        "account_id": uuid.uuid4(),
    }
    agent_id = uuid.uuid4()
    fee = Money(amount=Decimal("150.00"), currency="MXN")
    now = datetime.now(UTC)
    return [
        VisitRejected(
            **ids,
            agent_id=agent_id,
            attempt=1,
            reason="Photo of another house",
            fee=fee,
            rejected_at=now,
        ),
        VisitAppealed(**ids, agent_id=agent_id, text="Right house", appealed_at=now),
        VisitAppealResolved(
            **ids,
            agent_id=agent_id,
            outcome=AppealOutcome.OVERTURNED,
            fee=fee,
            resolved_at=now,
        ),
    ]


class TestReviewEvents:
    def test_webhook_may_subscribe_to_review(self) -> None:
        # Validated by the request model alone: no URL is resolved here.
        body = WebhookCreate(
            url="https://hooks.invalid/campo", event_types=REVIEW_TYPES
        )
        assert body.event_types == REVIEW_TYPES

    async def test_review_steps_streamed_in_order(
        self,
        reporting_app: FastAPI,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
    ) -> None:
        events = review_events(tenant.tenant_id)
        await publish(events)
        await wait_consumed()
        params = {"campaign_id": str(events[0].campaign_id)}

        async with serve_http(reporting_app) as url, http_client(url) as client:
            streamed = await stream(client, tenant, 3, params=params, last_event_id="0")

        assert [event["event"] for event in streamed] == REVIEW_TYPES
