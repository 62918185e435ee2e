"""Revisits after a visit that found nobody: delay, attempt cap, weekly limit."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest.app import create_app
from ingest.models import CampaignVisit, Revisit, common
from ingest.settings import IngestSettings
from ingest.tenants import CreatedTenant
from shared.db import create_engine, create_sessionmaker
from shared.events import Envelope, topics
from shared.events.payloads import PersonMet, VisitCompleted
from tests.fixtures.apps import eventually, running_app
from tests.fixtures.events import publish, read_events
from tests.fixtures.portfolios import account_row
from tests.fixtures.tenants import make_tenant
from tests.integration.ingest.helpers import brief_body, upload_rows

Sessionmaker = async_sessionmaker[AsyncSession]


@pytest.fixture(scope="module")
async def client():
    settings = IngestSettings(revisit_poll_seconds=0.2)
    async with running_app(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
async def sessionmaker():
    engine = create_engine(IngestSettings().database_url, pool_size=2)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def launched_request(
    client: httpx.AsyncClient, policy: dict[str, int]
) -> tuple[CreatedTenant, Envelope]:
    """Launch a one-account campaign under `policy` and return its visit request."""
    tenant = await make_tenant()
    headers = {"X-API-Key": tenant.api_key.key}
    stored = await client.put("/visit-policy", headers=headers, json=policy)
    assert stored.status_code == 200, stored.text
    await upload_rows(client, tenant.api_key.key, [account_row("R-1")])
    created = await client.post("/campaigns", headers=headers, json=brief_body())
    campaign_id = created.json()["campaign_id"]
    await client.post(f"/campaigns/{campaign_id}/launch", headers=headers)
    [request] = await requests_of(campaign_id, count=1)
    return tenant, request


async def requests_of(campaign_id: str, *, count: int) -> list[Envelope]:
    return await read_events(
        topics.VISIT_REQUESTS,
        count=count,
        where=lambda e: (
            e.type == "campo.visit.requested" and e.data["campaign_id"] == campaign_id
        ),
    )


def completed(request: Envelope, person_met: PersonMet) -> VisitCompleted:
    data: dict[str, Any] = request.data
    now = datetime.now(UTC)
    return VisitCompleted(
        tenant_id=request.tenant_id,
        visit_id=data["visit_id"],
        campaign_id=data["campaign_id"],
        account_id=data["account_id"],
        account_key=data["account_key"],
        agent_id=uuid.uuid4(),
        submission_id=f"sub-{uuid.uuid4().hex}",
        completed_at=now,
        device_time=now,
        person_met=person_met,
        contact=person_met.is_contact,
        debtor_lives_there=None,
    )


def requested_at(request: Envelope) -> datetime:
    return datetime.fromisoformat(request.data["requested_at"])


async def handled(sessionmaker: Sessionmaker, envelope: Envelope) -> None:
    table = common.handled_events

    async def seen() -> bool:
        async with sessionmaker() as session:
            found = await session.scalar(
                select(table.c.event_id).where(table.c.event_id == envelope.id)
            )
        return found is not None

    await eventually(seen, message=f"event {envelope.id} handled by ingest")


async def revisit_after(sessionmaker: Sessionmaker, visit_id: str) -> Revisit | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(Revisit).where(Revisit.previous_visit_id == uuid.UUID(visit_id))
        )


async def visit_count(sessionmaker: Sessionmaker, campaign_id: str) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(
                CampaignVisit.campaign_id == uuid.UUID(campaign_id)
            )
        )
    return count or 0


class TestVisitRequest:
    async def test_carries_the_address_time_zone(self, client, sessionmaker) -> None:
        policy = {"revisit_delay_seconds": 60, "max_attempts": 1}
        _, request = await launched_request(client, policy)

        assert request.data["time_zone"] == "America/Mexico_City"


class TestRevisits:
    async def test_nobody_home_revisited_after_delay(
        self, client, sessionmaker
    ) -> None:
        policy = {"revisit_delay_seconds": 1, "max_attempts": 2}
        tenant, first = await launched_request(client, policy)
        campaign_id = first.data["campaign_id"]

        outcome = completed(first, PersonMet.NOBODY)
        await publish([outcome])
        requests = await requests_of(campaign_id, count=2)

        second = requests[1]
        assert second.data["attempt"] == 2
        assert second.data["visit_id"] != first.data["visit_id"]
        assert second.data["account_id"] == first.data["account_id"]
        revisit = await revisit_after(sessionmaker, first.data["visit_id"])
        assert revisit is not None
        assert revisit.state == "requested"
        assert str(revisit.visit_id) == second.data["visit_id"]
        assert revisit.due_at - outcome.completed_at == timedelta(seconds=1)
        assert requested_at(second) >= revisit.due_at
        headers = {"X-API-Key": tenant.api_key.key}
        account = await client.get("/accounts/R-1", headers=headers)
        assert account.json()["last_visit_outcome"] == "nobody"
        nobody = await client.post(
            "/campaigns/preview",
            headers=headers,
            json={"last_visit_outcomes": ["nobody"]},
        )
        assert nobody.json()["matched"] == 1
        recent = await client.post(
            "/campaigns/preview", headers=headers, json={"not_visited_in_days": 1}
        )
        assert recent.json()["matched"] == 0

    async def test_max_attempts_stops_revisits(self, client, sessionmaker) -> None:
        policy = {"revisit_delay_seconds": 1, "max_attempts": 2}
        _, first = await launched_request(client, policy)
        campaign_id = first.data["campaign_id"]
        await publish([completed(first, PersonMet.NOBODY)])
        second = (await requests_of(campaign_id, count=2))[1]

        [event] = await publish([completed(second, PersonMet.NOBODY)])
        await handled(sessionmaker, event)

        assert await revisit_after(sessionmaker, second.data["visit_id"]) is None
        assert await visit_count(sessionmaker, campaign_id) == 2

    async def test_weekly_limit_postpones_revisit(self, client, sessionmaker) -> None:
        policy = {
            "revisit_delay_seconds": 1,
            "max_attempts": 3,
            "max_visits_per_week": 1,
        }
        _, first = await launched_request(client, policy)
        campaign_id = first.data["campaign_id"]

        await publish([completed(first, PersonMet.NOBODY)])

        async def postponed() -> Revisit | None:
            revisit = await revisit_after(sessionmaker, first.data["visit_id"])
            if revisit is None or revisit.due_at < datetime.now(UTC) + timedelta(
                days=6
            ):
                return None
            return revisit

        revisit = await eventually(postponed, message="revisit postponed a week")
        assert revisit.state == "scheduled"
        assert revisit.due_at == requested_at(first) + timedelta(days=7)
        assert await visit_count(sessionmaker, campaign_id) == 1

    async def test_debtor_met_not_revisited(self, client, sessionmaker) -> None:
        _, first = await launched_request(client, {"revisit_delay_seconds": 1})

        [event] = await publish([completed(first, PersonMet.DEBTOR)])
        await handled(sessionmaker, event)

        assert await revisit_after(sessionmaker, first.data["visit_id"]) is None

    async def test_cancel_drops_scheduled_revisit(self, client, sessionmaker) -> None:
        tenant, first = await launched_request(client, {"revisit_delay_seconds": 3600})
        [event] = await publish([completed(first, PersonMet.NOBODY)])
        await handled(sessionmaker, event)

        cancelled = await client.post(
            f"/campaigns/{first.data['campaign_id']}/cancel",
            headers={"X-API-Key": tenant.api_key.key},
        )

        assert cancelled.status_code == 200
        revisit = await revisit_after(sessionmaker, first.data["visit_id"])
        assert revisit is not None
        assert revisit.state == "cancelled"
