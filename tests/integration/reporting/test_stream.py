"""The live SSE stream over a real HTTP server: order, resumption, filters."""

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from ingest.tenants import CreatedTenant
from reporting.app import create_app
from reporting.settings import ReportingSettings
from reporting.stream import credential_ended, stream_events
from shared.auth import Tenant
from shared.events.payloads import PromiseBroken, PromiseKept, PromisePartlyKept
from shared.permissions import Role
from shared.runtime import ServiceRuntime
from shared.tenancy import platform_scope
from tests.fixtures.apps import running_app
from tests.fixtures.events import publish
from tests.integration.reporting.helpers import (
    STREAMED_PER_FLOW,
    CampaignFlow,
    auth,
    promise_status,
    provision_tenant,
    serve_http,
    wait_consumed,
)

EXPECTED_NAMES = Counter(
    {
        "campaign.launched": 1,
        "visit.assigned": 4,
        "visit.checked_in": 4,
        "visit.completed": 3,
        "visit.out_of_coverage": 1,
        "promise.made": 1,
    }
)


@asynccontextmanager
async def http_client(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, trust_env=False) as client:
        yield client


async def read_sse(
    response: httpx.Response, count: int, *, timeout_seconds: float = 10.0
) -> list[dict[str, Any]]:
    """Read `count` events (comments are kept apart) from an open SSE response."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async with asyncio.timeout(timeout_seconds):
        async for line in response.aiter_lines():
            if line.startswith(":"):
                events.append({"comment": line})
            elif line:
                field, _, value = line.partition(":")
                current[field] = value.removeprefix(" ")
            elif current:
                events.append(current)
                current = {}
            if len([e for e in events if "comment" not in e]) >= count:
                break
    return [event for event in events if "comment" not in event]


async def stream(
    client: httpx.AsyncClient,
    tenant: CreatedTenant,
    count: int,
    *,
    params: dict[str, str],
    last_event_id: str | None,
) -> list[dict[str, Any]]:
    headers = auth(tenant)
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    async with client.stream("GET", "/stream", params=params, headers=headers) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        return await read_sse(r, count)


class TestLiveStream:
    async def test_reconnect_no_gap_no_repeat(
        self,
        reporting_app: FastAPI,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
    ) -> None:
        flow = CampaignFlow(tenant.tenant_id)
        await publish(flow.all_events())
        await wait_consumed()
        params = {"campaign_id": str(flow.campaign_id)}

        async with serve_http(reporting_app) as url, http_client(url) as client:
            first = await stream(client, tenant, 5, params=params, last_event_id="0")
            rest = await stream(
                client,
                tenant,
                STREAMED_PER_FLOW - 5,
                params=params,
                last_event_id=first[-1]["id"],
            )
            replay = await stream(
                client, tenant, STREAMED_PER_FLOW, params=params, last_event_id="0"
            )

        ids = [int(event["id"]) for event in first + rest]
        assert ids == sorted(set(ids))
        assert ids == [int(event["id"]) for event in replay]
        assert Counter(event["event"] for event in first + rest) == EXPECTED_NAMES
        for event in first + rest:
            document = json.loads(event["data"])
            assert document["type"] == event["event"]
            assert document["seq"] == int(event["id"])
            assert document["campaign_id"] == str(flow.campaign_id)

    async def test_live_events_filtered_by_type(
        self,
        reporting_app: FastAPI,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
    ) -> None:
        flow = CampaignFlow(tenant.tenant_id)
        params = {"types": "visit.completed,promise.made"}

        async with serve_http(reporting_app) as url, http_client(url) as client:
            headers = auth(tenant)
            async with client.stream(
                "GET", "/stream", params=params, headers=headers
            ) as response:
                # Headers arrive once the start position is fixed, so every
                # event published now is after it.
                await publish(flow.all_events())
                events = await read_sse(response, 4)

        assert Counter(event["event"] for event in events) == Counter(
            {"visit.completed": 3, "promise.made": 1}
        )

    async def test_promise_status_events_streamed(
        self,
        reporting_app: FastAPI,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
    ) -> None:
        flow = CampaignFlow(tenant.tenant_id)
        statuses = [PromisePartlyKept, PromiseKept, PromiseBroken]
        payloads = [promise_status(flow, event) for event in statuses]
        params = {"types": "promise.partly_kept,promise.kept,promise.broken"}

        async with serve_http(reporting_app) as url, http_client(url) as client:
            headers = auth(tenant)
            async with client.stream(
                "GET", "/stream", params=params, headers=headers
            ) as response:
                await publish(payloads)
                events = await read_sse(response, 3)

        names = [event["event"] for event in events]
        assert names == ["promise.partly_kept", "promise.kept", "promise.broken"]
        for event in events:
            document = json.loads(event["data"])
            assert document["campaign_id"] == str(flow.campaign_id)

    async def test_tenants_streams_separate(
        self,
        reporting_app: FastAPI,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
    ) -> None:
        other = await provision_tenant(reporting)
        await publish(CampaignFlow(tenant.tenant_id).all_events())
        other_flow = CampaignFlow(other.tenant_id)
        await publish(other_flow.launch())
        await wait_consumed()

        async with serve_http(reporting_app) as url, http_client(url) as client:
            events = await stream(client, other, 1, params={}, last_event_id="0")

        assert events[0]["id"] == "1"
        assert events[0]["event"] == "campaign.launched"
        document = json.loads(events[0]["data"])
        assert document["campaign_id"] == str(other_flow.campaign_id)

    async def test_unknown_type_rejected(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        response = await reporting.get(
            "/stream", params={"types": "visit.teleported"}, headers=auth(tenant)
        )

        assert response.status_code == 422
        assert "visit.teleported" in response.json()["detail"]
        assert "visit.completed" in response.json()["detail"]

    @pytest.mark.parametrize(
        "last_event_id",
        ["abc", "-1", "9223372036854775808", "99999999999999999999999999"],
    )
    async def test_invalid_last_event_id_rejected(
        self, last_event_id: str, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        headers = auth(tenant) | {"Last-Event-ID": last_event_id}
        response = await reporting.get("/stream", headers=headers, timeout=10)

        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert last_event_id in response.json()["detail"]


class TestKeepAlive:
    async def test_idle_stream_sends_comments(self, service_env: object) -> None:
        app = create_app(ReportingSettings(stream_keepalive_seconds=0.2))
        async with running_app(app) as reporting:
            tenant = await provision_tenant(reporting)
            async with serve_http(app) as url, http_client(url) as client:
                headers = auth(tenant)
                async with client.stream("GET", "/stream", headers=headers) as r:
                    lines = []
                    async with asyncio.timeout(5):
                        async for line in r.aiter_lines():
                            lines.append(line)
                            if len([x for x in lines if x.startswith(":")]) >= 2:
                                break

        assert [line for line in lines if line and not line.startswith(":")] == []


class TestConnectionUse:
    async def test_waiting_streams_hold_no_connection(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        # A pool of 1 plus 1 overflow: four streams that each kept a
        # connection would leave none for the summary request.
        monkeypatch.setenv("DATABASE_POOL_SIZE", "1")
        app = create_app(ReportingSettings(stream_poll_seconds=0.2))
        async with running_app(app) as reporting:
            tenant = await provision_tenant(reporting)
            async with serve_http(app) as url, http_client(url) as client:
                headers = auth(tenant)
                async with contextlib.AsyncExitStack() as streams:
                    for _ in range(4):
                        response = await streams.enter_async_context(
                            client.stream("GET", "/stream", headers=headers)
                        )
                        assert response.status_code == 200
                    await asyncio.sleep(0.5)
                    async with asyncio.timeout(5):
                        listing = await reporting.get("/campaigns", headers=headers)

        assert listing.status_code == 200


class TestCredentialEnds:
    """A stream lasts only as long as the credential that opened it."""

    async def test_revoked_key_ends_an_open_stream(self, service_env: object) -> None:
        app = create_app(ReportingSettings(stream_credential_check_seconds=0.2))
        async with running_app(app) as reporting:
            tenant = await provision_tenant(reporting)
            runtime: ServiceRuntime = app.state.runtime
            async with serve_http(app) as url, http_client(url) as client:
                async with client.stream("GET", "/stream", headers=auth(tenant)) as r:
                    assert r.status_code == 200
                    await revoke(runtime, tenant.api_key.key_id)
                    # The server closes the response: the loop ends by itself.
                    async with asyncio.timeout(10):
                        lines = [line async for line in r.aiter_lines()]
                after = await client.get("/stream", headers=auth(tenant))

        fields = [line for line in lines if line and not line.startswith(":")]
        assert fields[0] == "event: stream.ended"
        assert (
            "API key was revoked"
            in json.loads(fields[1].removeprefix("data: "))["reason"]
        )
        assert len(fields) == 2
        assert after.status_code == 401

    async def test_stream_ends_when_the_access_token_expires(
        self, reporting_app: FastAPI, reporting: httpx.AsyncClient
    ) -> None:
        tenant = await provision_tenant(reporting)
        runtime: ServiceRuntime = reporting_app.state.runtime
        person = Tenant(
            tenant_id=tenant.tenant_id,
            key_id=uuid.uuid4(),
            role=Role.ANALYST,
            usable_until=datetime.now(UTC) + timedelta(seconds=1),
        )
        events = stream_events(
            runtime,
            tenant.tenant_id,
            after_seq=0,
            campaign_id=None,
            event_types=None,
            caller=person,
        )

        async with asyncio.timeout(10):
            first = await anext(events)
        with pytest.raises(StopAsyncIteration):
            await anext(events)

        assert first.event == "stream.ended"
        assert datetime.now(UTC) >= person.usable_until
        assert "access token expired" in json.loads(first.data)["reason"]

    async def test_live_key_keeps_its_stream(
        self, reporting_app: FastAPI, reporting: httpx.AsyncClient
    ) -> None:
        tenant = await provision_tenant(reporting)
        runtime: ServiceRuntime = reporting_app.state.runtime
        caller = Tenant(tenant_id=tenant.tenant_id, key_id=tenant.api_key.key_id)

        ended = await credential_ended(runtime, caller, check_key=True)

        assert ended is None


async def revoke(runtime: ServiceRuntime, key_id: uuid.UUID) -> None:
    """Mark the key revoked in reporting's copy, as the tenants topic would."""
    api_keys = runtime.tables.api_keys
    with platform_scope():
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id)
                .values(revoked_at=datetime.now(UTC))
            )
