import math
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest.app import create_app as create_ingest_app
from ingest.tenants import CreatedTenant
from matching.agents import RegisteredAgent
from shared.auth import issue_agent_token
from shared.errors import PROBLEM_CONTENT_TYPE
from shared.events import topics
from shared.events.payloads import (
    DispatchMode,
    DispatchPolicy,
    PersonMet,
    VisitCompleted,
    VisitRequested,
)
from shared.settings import ServiceSettings
from tests.fixtures.apps import eventually, running_app
from tests.fixtures.events import publish
from tests.fixtures.tenants import make_tenant
from tests.integration.matching.helpers import (
    bearer,
    new_region,
    read_events_for,
    register,
    visit_requested,
)

Sessionmaker = async_sessionmaker[AsyncSession]

ASSIGNMENT_FIELDS = {
    "assignment_id",
    "visit_id",
    "tenant_id",
    "state",
    "colonia",
    "municipality",
    "distance_m",
    "fee",
    "deadline",
    "assigned_at",
    "check_in_by",
    "checked_in_at",
    "release_reason",
    "ended_at",
}


@dataclass(frozen=True)
class Scenario:
    owner: CreatedTenant
    stranger: CreatedTenant
    agent: RegisteredAgent
    bystander: RegisteredAgent
    request: VisitRequested


async def _key_works(client: httpx.AsyncClient, tenant: CreatedTenant) -> bool:
    response = await client.get(
        f"/assignments/{uuid.uuid4()}", headers=bearer(tenant.api_key.key)
    )
    return response.status_code == 404


@pytest_asyncio.fixture(scope="module")
async def scenario(
    matching: httpx.AsyncClient,
    sessionmaker: Sessionmaker,
) -> AsyncIterator[Scenario]:
    """Two tenants known to matching, and one visit of the first assigned."""
    async with running_app(create_ingest_app()):
        owner, stranger = await make_tenant(), await make_tenant()
        for tenant in (owner, stranger):
            await eventually(
                lambda tenant=tenant: _key_works(matching, tenant),
                message=f"API key of tenant {tenant.tenant_id} copied to matching",
            )
    region = new_region()
    agent = await register(sessionmaker, region.point(east_m=500))
    bystander = await register(sessionmaker, region.point(east_m=90_000))
    request = visit_requested(region.point(), tenant_id=owner.tenant_id)
    await publish([request])
    await read_events_for(topics.ASSIGNMENTS, {str(request.visit_id)})
    yield Scenario(owner, stranger, agent, bystander, request)


class TestAgentProfile:
    async def test_missing_token_is_401(self, matching: httpx.AsyncClient) -> None:
        response = await matching.get("/agents/me")

        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
        assert response.headers["www-authenticate"] == "Bearer"
        assert "missing agent token" in response.json()["detail"]

    @pytest.mark.parametrize(
        ("kind", "expected"),
        [
            ("malformed", "invalid agent token: it is not a well-formed JWT"),
            ("other-secret", "invalid agent token: it is not signed by this platform"),
            ("expired", "the agent token expired"),
        ],
    )
    async def test_invalid_token_is_401(
        self, matching: httpx.AsyncClient, kind: str, expected: str
    ) -> None:
        secret = ServiceSettings().agent_token_secret.get_secret_value()
        tokens = {
            "malformed": "not-a-jwt",
            "other-secret": issue_agent_token(uuid.uuid4(), secret="x" * 40),
            "expired": issue_agent_token(
                uuid.uuid4(), secret=secret, ttl=timedelta(seconds=-60)
            ),
        }

        response = await matching.get("/agents/me", headers=bearer(tokens[kind]))

        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
        assert response.json()["detail"].startswith(expected)

    async def test_unregistered_agent_is_404(self, matching: httpx.AsyncClient) -> None:
        secret = ServiceSettings().agent_token_secret.get_secret_value()
        agent_id = uuid.uuid4()
        token = issue_agent_token(agent_id, secret=secret)

        response = await matching.get("/agents/me", headers=bearer(token))

        assert response.status_code == 404
        assert str(agent_id) in response.json()["detail"]

    async def test_own_profile(
        self, matching: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        response = await matching.get(
            "/agents/me", headers=bearer(scenario.agent.token)
        )

        assert response.status_code == 200
        profile = response.json()
        assert profile["agent_id"] == str(scenario.agent.agent_id)
        assert profile["coverage_radius_m"] == 5000
        assert profile["daily_capacity"] == 8
        assert profile["assigned_today"] == 1
        assert profile["status"] == "online"
        assert profile["employer_tenant_id"] is None


class TestAgentAssignments:
    async def test_lists_active_without_debtor_data(
        self, matching: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        response = await matching.get(
            "/agents/me/assignments",
            params={"state": "active"},
            headers=bearer(scenario.agent.token),
        )

        assert response.status_code == 200
        items = response.json()
        assert [item["visit_id"] for item in items] == [str(scenario.request.visit_id)]
        item = items[0]
        assert set(item) == ASSIGNMENT_FIELDS
        assert item["tenant_id"] == str(scenario.owner.tenant_id)
        assert item["state"] == "active"
        assert item["colonia"] == "Centro"
        assert item["municipality"] == "Cuauhtémoc"
        assert item["fee"] == {"amount": "85.00", "currency": "MXN"}
        assert item["distance_m"] == pytest.approx(500, rel=0.02)
        assert item["check_in_by"] is not None
        assert item["release_reason"] is None

    async def test_other_agent_sees_none(
        self, matching: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        response = await matching.get(
            "/agents/me/assignments", headers=bearer(scenario.bystander.token)
        )

        assert response.status_code == 200
        assert response.json() == []

    async def test_unknown_state_is_422(
        self, matching: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        response = await matching.get(
            "/agents/me/assignments",
            params={"state": "lost"},
            headers=bearer(scenario.agent.token),
        )

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE


class TestVisitAssignment:
    async def test_owner_reads_assignment(
        self, matching: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        response = await matching.get(
            f"/assignments/{scenario.request.visit_id}",
            headers={"X-API-Key": scenario.owner.api_key.key},
        )

        assert response.status_code == 200
        body = response.json()
        assert body["agent_id"] == str(scenario.agent.agent_id)
        assert body["state"] == "active"
        assert body["distance_m"] == pytest.approx(500, rel=0.02)

    async def test_other_tenant_gets_404(
        self, matching: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        response = await matching.get(
            f"/assignments/{scenario.request.visit_id}",
            headers=bearer(scenario.stranger.api_key.key),
        )

        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE

    async def test_missing_key_is_401(
        self, matching: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        response = await matching.get(f"/assignments/{scenario.request.visit_id}")

        assert response.status_code == 401

    async def test_malformed_visit_id_is_422(
        self, matching: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        response = await matching.get(
            "/assignments/not-a-uuid", headers=bearer(scenario.owner.api_key.key)
        )

        assert response.status_code == 422


class TestVisitOffers:
    async def test_assigned_offer_explains_its_score(
        self, matching: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        response = await matching.get(
            f"/visits/{scenario.request.visit_id}/offers",
            headers={"X-API-Key": scenario.owner.api_key.key},
        )

        assert response.status_code == 200, response.text
        [offer] = response.json()
        assert offer["agent_id"] == str(scenario.agent.agent_id)
        assert offer["state"] == "accepted"
        assert offer["expires_at"] is None
        assert offer["decline_reason"] is None
        ranking = offer["ranking"]
        # The bystander is 90 km away, outside its coverage, so not considered.
        assert ranking["rank"] == 1
        assert ranking["candidates_considered"] == 1
        factors = ranking["factors"]
        assert ranking["score"] == math.fsum(f["contribution"] for f in factors)
        assert ranking["weights"] == {f["name"]: f["weight"] for f in factors}
        travel = next(f for f in factors if f["name"] == "travel")
        assert travel["raw"] > 0
        assert travel["contribution"] == pytest.approx(
            travel["normalised"] * travel["weight"]
        )

    async def test_broadcast_offers_follow_their_scores(
        self,
        matching: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        scenario: Scenario,
    ) -> None:
        region = new_region()
        agents = [
            await register(sessionmaker, region.point(north_m=700 * (i + 1)))
            for i in range(3)
        ]
        policy = DispatchPolicy(mode=DispatchMode.BROADCAST, broadcast_size=3)
        request = visit_requested(
            region.point(), tenant_id=scenario.owner.tenant_id, dispatch=policy
        )
        headers = {"X-API-Key": scenario.owner.api_key.key}
        await publish([request])

        async def three_offers() -> list[dict] | None:
            response = await matching.get(
                f"/visits/{request.visit_id}/offers", headers=headers
            )
            body = response.json() if response.status_code == 200 else []
            return body if len(body) == 3 else None

        offers = await eventually(three_offers, message="three broadcast offers")

        assert [o["agent_id"] for o in offers] == [str(a.agent_id) for a in agents]
        assert {o["state"] for o in offers} == {"offered"}
        scores = [o["ranking"]["score"] for o in offers]
        assert scores == sorted(scores, reverse=True)
        assert len(set(scores)) == 3
        assert [o["ranking"]["rank"] for o in offers] == [1, 2, 3]
        assert {o["ranking"]["candidates_considered"] for o in offers} == {3}
        for offer in offers:
            factors = offer["ranking"]["factors"]
            assert offer["ranking"]["score"] == math.fsum(
                f["contribution"] for f in factors
            )

    async def test_other_tenant_gets_404(
        self, matching: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        response = await matching.get(
            f"/visits/{scenario.request.visit_id}/offers",
            headers={"X-API-Key": scenario.stranger.api_key.key},
        )

        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
        assert "ranking" not in response.json()

    async def test_unknown_visit_is_404_and_missing_key_401(
        self, matching: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        unknown = await matching.get(
            f"/visits/{uuid.uuid4()}/offers",
            headers={"X-API-Key": scenario.owner.api_key.key},
        )
        anonymous = await matching.get(f"/visits/{scenario.request.visit_id}/offers")

        assert unknown.status_code == 404
        assert anonymous.status_code == 401

    async def test_agent_token_cannot_read_offers(
        self, matching: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        response = await matching.get(
            f"/visits/{scenario.request.visit_id}/offers",
            headers=bearer(scenario.agent.token),
        )

        assert response.status_code == 401


class TestCompletion:
    async def test_completed_visit_marks_assignment_done(
        self,
        matching: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        scenario: Scenario,
    ) -> None:
        region = new_region()
        agent = await register(sessionmaker, region.point(east_m=300))
        request = visit_requested(region.point(), tenant_id=scenario.owner.tenant_id)
        await publish([request])
        await read_events_for(topics.ASSIGNMENTS, {str(request.visit_id)})
        now = datetime.now(UTC)
        completed = VisitCompleted(
            tenant_id=request.tenant_id,
            visit_id=request.visit_id,
            campaign_id=request.campaign_id,
            account_id=request.account_id,
            account_key=request.account_key,
            agent_id=agent.agent_id,
            submission_id=f"sub-{uuid.uuid4().hex[:8]}",
            completed_at=now,
            device_time=now,
            person_met=PersonMet.DEBTOR,
            contact=True,
            debtor_lives_there=True,
        )
        headers = {"X-API-Key": scenario.owner.api_key.key}

        await publish([completed])

        async def assignment_done() -> bool:
            response = await matching.get(
                f"/assignments/{request.visit_id}", headers=headers
            )
            return response.json()["state"] == "done"

        await eventually(assignment_done, message="assignment moved to done")
        agent_headers = bearer(agent.token)
        active = await matching.get(
            "/agents/me/assignments", params={"state": "active"}, headers=agent_headers
        )
        done = await matching.get(
            "/agents/me/assignments", params={"state": "done"}, headers=agent_headers
        )
        assert active.json() == []
        assert [item["visit_id"] for item in done.json()] == [str(request.visit_id)]
