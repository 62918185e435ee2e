"""Rate limits on the real apps: an API key on ingest, an agent token on visits."""

import uuid

import pytest

import ingest.app
import visits.app
from ingest.settings import IngestSettings
from shared.auth import issue_agent_token
from tests.fixtures.apps import running_app
from tests.fixtures.tenants import make_tenant
from visits.settings import VisitsSettings


@pytest.fixture
def tight_limits(monkeypatch) -> None:
    for caller in ("API_KEY", "AGENT"):
        monkeypatch.setenv(f"RATE_LIMIT_{caller}_PER_MINUTE", "6")
        monkeypatch.setenv(f"RATE_LIMIT_{caller}_BURST", "2")


@pytest.mark.usefixtures("tight_limits")
async def test_api_key_limited_with_retry_after() -> None:
    tenant, other = await make_tenant(), await make_tenant()
    headers = {"X-API-Key": tenant.api_key.key}

    async with running_app(ingest.app.create_app(IngestSettings())) as client:
        first = [await client.get("/campaigns", headers=headers) for _ in range(2)]
        refused = await client.get("/campaigns", headers=headers)
        other_key = await client.get(
            "/campaigns", headers={"X-API-Key": other.api_key.key}
        )

    assert [r.status_code for r in first] == [200, 200]
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["retry-after"]) <= 10
    assert "6 requests per minute" in refused.json()["detail"]
    assert other_key.status_code == 200


@pytest.mark.usefixtures("tight_limits")
async def test_bad_key_uses_no_allowance() -> None:
    tenant = await make_tenant()

    async with running_app(ingest.app.create_app(IngestSettings())) as client:
        bad = [
            await client.get("/campaigns", headers={"X-API-Key": "ck_wrong_key"})
            for _ in range(5)
        ]
        good = [
            await client.get("/campaigns", headers={"X-API-Key": tenant.api_key.key})
            for _ in range(2)
        ]

    assert {r.status_code for r in bad} == {401}
    assert [r.status_code for r in good] == [200, 200]


@pytest.mark.usefixtures("tight_limits")
async def test_agent_limited_per_agent() -> None:
    settings = VisitsSettings()
    secret = settings.agent_token_secret.get_secret_value()
    busy = {"Authorization": f"Bearer {issue_agent_token(uuid.uuid4(), secret=secret)}"}
    calm = {"Authorization": f"Bearer {issue_agent_token(uuid.uuid4(), secret=secret)}"}

    async with running_app(visits.app.create_app(settings)) as client:
        statuses = [
            (await client.get("/agent/visits", headers=busy)).status_code
            for _ in range(3)
        ]
        other_agent = await client.get("/agent/visits", headers=calm)

    assert statuses == [200, 200, 429]
    assert other_agent.status_code == 200
