"""Webhook subscriptions and signed deliveries to a receiver on 127.0.0.1."""

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ingest.tenants import CreatedTenant
from reporting.app import create_app
from tests.fixtures.apps import eventually, running_app
from tests.fixtures.events import publish
from tests.integration.reporting.helpers import (
    CampaignFlow,
    auth,
    provision_tenant,
    serve_http,
    wait_consumed,
)


class Receiver:
    """An HTTP endpoint that records requests and returns scripted statuses."""

    def __init__(
        self,
        statuses: list[int],
        *,
        headers: dict[str, str] | None = None,
        delay_seconds: float = 0.0,
    ) -> None:
        self.statuses = statuses
        self.headers = headers or {}
        self.delay_seconds = delay_seconds
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.redirected: list[bytes] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.app = Starlette(
            routes=[
                Route("/hook", self.hook, methods=["POST"]),
                Route("/elsewhere", self.elsewhere, methods=["POST"]),
            ]
        )

    async def elsewhere(self, request: Request) -> Response:
        self.redirected.append(await request.body())
        return Response(status_code=204)

    async def hook(self, request: Request) -> Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            body = await request.body()
            self.requests.append((dict(request.headers), body))
            await asyncio.sleep(self.delay_seconds)
            index = min(len(self.requests), len(self.statuses)) - 1
            status = self.statuses[index]
            headers = dict(self.headers)
            if status in (301, 302, 303, 307, 308):
                headers["location"] = "/elsewhere"
            return Response(status_code=status, headers=headers)
        finally:
            self.in_flight -= 1


@asynccontextmanager
async def reporting_with_loopback(
    monkeypatch: pytest.MonkeyPatch, schedule: str = "2,2,2"
) -> AsyncIterator[tuple[httpx.AsyncClient, CreatedTenant]]:
    monkeypatch.setenv("REPORTING_WEBHOOK_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("REPORTING_WEBHOOK_RETRY_SCHEDULE_SECONDS", schedule)
    async with running_app(create_app()) as reporting:
        yield reporting, await provision_tenant(reporting)


async def subscribe(
    client: httpx.AsyncClient, tenant: CreatedTenant, url: str, types: list[str]
) -> dict[str, Any]:
    response = await client.post(
        "/webhooks", json={"url": url, "event_types": types}, headers=auth(tenant)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def attempts_of(
    client: httpx.AsyncClient, tenant: CreatedTenant, subscription_id: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/webhooks/{subscription_id}/deliveries", headers=auth(tenant)
    )
    assert response.status_code == 200
    return response.json()["attempts"]


class TestDelivery:
    async def test_failed_attempt_retried_same_id(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        receiver = Receiver([500, 204])
        async with (
            serve_http(receiver.app) as base,
            reporting_with_loopback(monkeypatch) as (reporting, tenant),
        ):
            created = await subscribe(
                reporting, tenant, f"{base}/hook", ["visit.completed"]
            )
            ignored = Receiver([204])
            async with serve_http(ignored.app) as other_base:
                await subscribe(
                    reporting, tenant, f"{other_base}/hook", ["promise.made"]
                )
                completed = CampaignFlow(tenant.tenant_id).results()[0]
                [envelope] = await publish([completed])
                await eventually(lambda: _at_least(receiver, 2), timeout_seconds=15)
                attempts = await eventually(
                    lambda: _attempts_when(reporting, tenant, created, 2)
                )

        verifier = Webhook(created["secret"])
        (first_headers, first_body), (second_headers, second_body) = receiver.requests
        first = verifier.verify(first_body, first_headers)
        second = verifier.verify(second_body, second_headers)
        assert first == second
        assert first["type"] == "visit.completed"
        assert first["data"]["visit_id"] == str(completed.visit_id)
        assert first_headers["webhook-id"] == f"msg_{envelope.id.hex}"
        assert second_headers["webhook-id"] == first_headers["webhook-id"]
        first_time = int(first_headers["webhook-timestamp"])
        assert int(second_headers["webhook-timestamp"]) > first_time
        assert ignored.requests == []
        assert [a["attempt_number"] for a in attempts] == [2, 1]
        assert [a["status_code"] for a in attempts] == [204, 500]
        assert {a["delivery_state"] for a in attempts} == {"delivered"}
        assert attempts[1]["error"] == "HTTP 500"

    async def test_gone_disables_subscription(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        receiver = Receiver([410])
        async with (
            serve_http(receiver.app) as base,
            reporting_with_loopback(monkeypatch) as (reporting, tenant),
        ):
            created = await subscribe(
                reporting, tenant, f"{base}/hook", ["visit.completed"]
            )
            flow = CampaignFlow(tenant.tenant_id)
            await publish([flow.results()[0]])
            await eventually(lambda: _at_least(receiver, 1))
            await eventually(lambda: _attempts_when(reporting, tenant, created, 1))
            response = await reporting.get(
                f"/webhooks/{created['subscription_id']}", headers=auth(tenant)
            )
            await publish([flow.results()[1]])
            await wait_consumed()
            await asyncio.sleep(1.0)
            attempts = await attempts_of(reporting, tenant, created["subscription_id"])

        assert response.json()["state"] == "disabled"
        assert "410" in response.json()["disabled_reason"]
        assert len(receiver.requests) == 1
        assert len(attempts) == 1
        assert attempts[0]["status_code"] == 410
        assert attempts[0]["delivery_state"] == "failed"

    async def test_rate_limit_retry_after_honoured(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        # The schedule alone would wait 30 s, but Retry-After requests 1 s.
        receiver = Receiver([429, 204], headers={"retry-after": "1"})
        async with (
            serve_http(receiver.app) as base,
            reporting_with_loopback(monkeypatch, "30,30") as (reporting, tenant),
        ):
            created = await subscribe(
                reporting, tenant, f"{base}/hook", ["visit.completed"]
            )
            await publish([CampaignFlow(tenant.tenant_id).results()[0]])
            attempts = await eventually(
                lambda: _attempts_when(reporting, tenant, created, 2),
                timeout_seconds=10,
            )

        assert [a["status_code"] for a in attempts] == [204, 429]
        assert attempts[0]["delivery_state"] == "delivered"

    async def test_redirect_not_followed(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        receiver = Receiver([307])
        async with (
            serve_http(receiver.app) as base,
            reporting_with_loopback(monkeypatch, "30") as (reporting, tenant),
        ):
            created = await subscribe(
                reporting, tenant, f"{base}/hook", ["visit.completed"]
            )
            await publish([CampaignFlow(tenant.tenant_id).results()[0]])
            [attempt] = await eventually(
                lambda: _attempts_recorded(reporting, tenant, created, 1)
            )

        assert receiver.redirected == []
        assert attempt["status_code"] == 307
        assert "redirects are not followed" in attempt["error"]
        assert attempt["delivery_state"] == "pending"

    async def test_slow_response_times_out(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        monkeypatch.setenv("REPORTING_WEBHOOK_TIMEOUT_SECONDS", "0.5")
        receiver = Receiver([204], delay_seconds=2.0)
        async with (
            serve_http(receiver.app) as base,
            reporting_with_loopback(monkeypatch, "30") as (reporting, tenant),
        ):
            created = await subscribe(
                reporting, tenant, f"{base}/hook", ["visit.completed"]
            )
            await publish([CampaignFlow(tenant.tenant_id).results()[0]])
            [attempt] = await eventually(
                lambda: _attempts_recorded(reporting, tenant, created, 1)
            )

        assert attempt["status_code"] is None
        assert attempt["error"] == "timed out after 0.5 s waiting for the receiver"
        assert attempt["delivery_state"] == "pending"
        assert 400 <= attempt["latency_ms"] < 2000

    async def test_url_checked_again_at_delivery(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        receiver = Receiver([204])
        async with serve_http(receiver.app) as base:
            async with reporting_with_loopback(monkeypatch, "30") as (
                reporting,
                tenant,
            ):
                created = await subscribe(
                    reporting, tenant, f"{base}/hook", ["visit.completed"]
                )
            # A new instance without the loopback setting must not deliver.
            monkeypatch.delenv("REPORTING_WEBHOOK_ALLOW_LOOPBACK")
            async with running_app(create_app()) as reporting:
                await publish([CampaignFlow(tenant.tenant_id).results()[0]])
                [attempt] = await eventually(
                    lambda: _attempts_recorded(reporting, tenant, created, 1)
                )

        assert receiver.requests == []
        assert attempt["status_code"] is None
        assert "loopback address" in attempt["error"]

    async def test_slow_receiver_capped_others_served(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        # Each response takes 5 s, so with 4 in flight the slow receiver
        # needs 10 s for its 8 messages. That leaves the fast one time on a
        # busy machine too.
        slow = Receiver([204], delay_seconds=5.0)
        fast = Receiver([204])
        async with (
            serve_http(slow.app) as slow_base,
            serve_http(fast.app) as fast_base,
            reporting_with_loopback(monkeypatch) as (reporting, tenant),
        ):
            await subscribe(reporting, tenant, f"{slow_base}/hook", ["visit.assigned"])
            await subscribe(reporting, tenant, f"{fast_base}/hook", ["visit.assigned"])
            flow = CampaignFlow(tenant.tenant_id)
            events = flow.assignments() + CampaignFlow(tenant.tenant_id).assignments()
            await publish(events)
            await eventually(lambda: _at_least(fast, 8), timeout_seconds=30)
            slow_seen_when_fast_done = len(slow.requests)
            await eventually(lambda: _at_least(slow, 8), timeout_seconds=60)

        # The fast receiver had all of its messages while the slow one still
        # waited for its second four.
        assert slow_seen_when_fast_done <= 4
        assert slow.max_in_flight == 4


async def _at_least(receiver: Receiver, count: int) -> bool:
    return len(receiver.requests) >= count


async def _attempts_when(
    client: httpx.AsyncClient,
    tenant: CreatedTenant,
    created: dict[str, Any],
    count: int,
) -> list[dict[str, Any]] | None:
    attempts = await attempts_of(client, tenant, created["subscription_id"])
    recorded = len(attempts) == count
    settled = recorded and attempts[0]["delivery_state"] != "pending"
    return attempts if settled else None


async def _attempts_recorded(
    client: httpx.AsyncClient,
    tenant: CreatedTenant,
    created: dict[str, Any],
    count: int,
) -> list[dict[str, Any]] | None:
    attempts = await attempts_of(client, tenant, created["subscription_id"])
    return attempts if len(attempts) >= count else None


class TestSubscriptions:
    @pytest.mark.parametrize(
        "url",
        [
            "http://10.0.0.1/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost:9/hook",
            "http://[::1]:9/hook",
        ],
    )
    async def test_unsafe_url_rejected(
        self,
        url: str,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
    ) -> None:
        # The fixture's app runs with the default settings: no loopback.
        response = await reporting.post(
            "/webhooks",
            json={"url": url, "event_types": ["visit.completed"]},
            headers=auth(tenant),
        )

        assert response.status_code == 422
        assert url in response.json()["detail"]

    @pytest.mark.parametrize(
        "url", ["http://10.0.0.1/hook", "http://169.254.169.254/latest"]
    )
    async def test_loopback_setting_keeps_private_rejected(
        self, url: str, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        async with reporting_with_loopback(monkeypatch) as (reporting, tenant):
            response = await reporting.post(
                "/webhooks",
                json={"url": url, "event_types": ["visit.completed"]},
                headers=auth(tenant),
            )

        assert response.status_code == 422
        assert url in response.json()["detail"]

    @pytest.mark.parametrize(
        ("field", "value"),
        [("description", "alta\x00"), ("url", "http://127.0.0.1:9/h\x00ook")],
    )
    async def test_nul_character_rejected_naming_field(
        self,
        field: str,
        value: str,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
    ) -> None:
        body = {"url": "http://127.0.0.1:9/hook", "event_types": ["visit.completed"]}
        response = await reporting.post(
            "/webhooks", json=body | {field: value}, headers=auth(tenant)
        )

        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["location"] == f"body.{field}"
        assert "NUL" in response.json()["detail"]

    async def test_unknown_event_type_rejected(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        response = await reporting.post(
            "/webhooks",
            json={"url": "http://127.0.0.1:9/hook", "event_types": ["visit.exploded"]},
            headers=auth(tenant),
        )

        assert response.status_code == 422
        detail = response.json()["detail"]
        assert "visit.exploded" in detail
        assert "visit.completed" in detail
        assert "promise.made" in detail

    async def test_lifecycle_and_tenant_scope(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        # Nothing listens on port 9 and no event of this tenant is published.
        body = {"url": "http://127.0.0.1:9/hook", "event_types": ["visit.assigned"]}
        async with reporting_with_loopback(monkeypatch) as (reporting, tenant):
            other = await provision_tenant(reporting)
            headers = auth(tenant) | {"Idempotency-Key": "create-hook-1"}
            created = await reporting.post("/webhooks", json=body, headers=headers)
            replayed = await reporting.post("/webhooks", json=body, headers=headers)
            subscription_id = created.json()["subscription_id"]
            path = f"/webhooks/{subscription_id}"

            listed = await reporting.get("/webhooks", headers=auth(tenant))
            fetched = await reporting.get(path, headers=auth(tenant))
            foreign = await reporting.get(path, headers=auth(other))
            foreign_delete = await reporting.delete(path, headers=auth(other))
            deleted = await reporting.delete(path, headers=auth(tenant))
            deleted_again = await reporting.delete(path, headers=auth(tenant))
            after = await reporting.get(path, headers=auth(tenant))

        assert created.status_code == 201
        assert replayed.json() == created.json()
        secret = created.json()["secret"]
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
        assert [w["subscription_id"] for w in listed.json()["webhooks"]] == [
            subscription_id
        ]
        assert "secret" not in listed.json()["webhooks"][0]
        assert "secret" not in fetched.json()
        assert fetched.json()["event_types"] == ["visit.assigned"]
        assert foreign.status_code == 404
        assert foreign_delete.status_code == 404
        assert deleted.status_code == 204
        assert deleted_again.status_code == 204
        assert after.json()["state"] == "disabled"
