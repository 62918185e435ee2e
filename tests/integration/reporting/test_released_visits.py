"""A visit released by its agent is streamed and reads as requested again."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from ingest.tenants import CreatedTenant
from reporting.models import VisitFact
from reporting.settings import ReportingSettings
from shared.db import create_engine, create_sessionmaker
from shared.events.payloads import ReleaseReason, VisitAssigned, VisitReleased
from tests.fixtures.events import publish
from tests.integration.reporting.helpers import serve_http, wait_consumed
from tests.integration.reporting.test_stream import http_client, stream

START = datetime.now(UTC)


def assigned(ids: dict[str, uuid.UUID], minutes: int) -> VisitAssigned:
    return VisitAssigned(
        **ids,
        agent_id=uuid.uuid4(),
        requested_at=START,
        assigned_at=START + timedelta(minutes=minutes),
    )


def released(ids: dict[str, uuid.UUID], minutes: int) -> VisitReleased:
    return VisitReleased(
        **ids,
        agent_id=uuid.uuid4(),
        assignment_id=uuid.uuid4(),
        reason=ReleaseReason.NO_CHECK_IN,
        released_at=START + timedelta(minutes=minutes),
    )


async def fact_state(visit_id: uuid.UUID) -> tuple[str, datetime | None]:
    engine = create_engine(ReportingSettings().database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            fact = await session.get(VisitFact, visit_id)
            assert fact is not None
            return fact.state, fact.assigned_at
    finally:
        await engine.dispose()


class TestReleasedVisit:
    async def test_release_streamed_and_visit_requested_again(
        self,
        reporting_app: FastAPI,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
    ) -> None:
        ids = {
            "tenant_id": tenant.tenant_id,
            "visit_id": uuid.uuid4(),
            "campaign_id": uuid.uuid4(),
            "account_id": uuid.uuid4(),
        }

        await publish([assigned(ids, 1), released(ids, 30)])
        await wait_consumed()

        assert await fact_state(ids["visit_id"]) == ("requested", None)
        params = {"campaign_id": str(ids["campaign_id"])}
        async with serve_http(reporting_app) as url, http_client(url) as client:
            streamed = await stream(client, tenant, 2, params=params, last_event_id="0")
        assert [event["event"] for event in streamed] == [
            "visit.assigned",
            "visit.released",
        ]

        await publish([assigned(ids, 40)])
        await wait_consumed()

        assert await fact_state(ids["visit_id"]) == (
            "assigned",
            START + timedelta(minutes=40),
        )

    async def test_release_keeps_a_later_assignment(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        ids = {
            "tenant_id": tenant.tenant_id,
            "visit_id": uuid.uuid4(),
            "campaign_id": uuid.uuid4(),
            "account_id": uuid.uuid4(),
        }

        await publish([assigned(ids, 40), released(ids, 30)])
        await wait_consumed()

        assert await fact_state(ids["visit_id"]) == (
            "assigned",
            START + timedelta(minutes=40),
        )
