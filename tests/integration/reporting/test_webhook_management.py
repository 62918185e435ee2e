"""Secret rotation, enabling and disabling, redelivery, replay and giving up.

Times that matter over days (a secret's expiry, the start of a failing
streak) are moved back in the database instead of waited for.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ingest.tenants import CreatedTenant
from reporting.app import create_app
from reporting.models import StreamEvent, WebhookSubscription
from reporting.notifier import commit_notifier
from reporting.wake import APPLICATION_NAME
from reporting.webhook_urls import Resolver, resolve_host
from shared.db import create_engine
from shared.runtime import ServiceRuntime
from shared.tenancy import platform_scope, tenant_scope
from tests.fixtures.apps import eventually, running_app
from tests.fixtures.events import publish
from tests.integration.reporting.helpers import (
    CampaignFlow,
    auth,
    provision_tenant,
    serve_http,
    wait_consumed,
)
from tests.integration.reporting.test_webhooks import Receiver, attempts_of, subscribe


@dataclass
class Reporting:
    client: httpx.AsyncClient
    tenant: CreatedTenant
    app: FastAPI

    @property
    def runtime(self) -> ServiceRuntime:
        runtime: ServiceRuntime = self.app.state.runtime
        return runtime

    @property
    def headers(self) -> dict[str, str]:
        return auth(self.tenant)

    async def execute(self, statement: Any) -> None:
        # Seeding and checking rows of any tenant, as background work does.
        with platform_scope():
            await self._execute(statement)

    async def _execute(self, statement: Any) -> None:
        async with self.runtime.sessionmaker() as session, session.begin():
            await session.execute(statement)

    async def completed_visit(self, index: int = 0) -> str:
        """Publish a visit result; return the webhook-id it will carry."""
        completed = CampaignFlow(self.tenant.tenant_id).results()[index]
        [envelope] = await publish([completed])
        return f"msg_{envelope.id.hex}"


@asynccontextmanager
async def reporting_running(
    monkeypatch: pytest.MonkeyPatch,
    schedule: str = "1,1,1",
    resolve: Resolver = resolve_host,
) -> AsyncIterator[Reporting]:
    monkeypatch.setenv("REPORTING_WEBHOOK_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("REPORTING_WEBHOOK_RETRY_SCHEDULE_SECONDS", schedule)
    app = create_app(resolve=resolve)
    async with running_app(app) as client:
        yield Reporting(client, await provision_tenant(client), app)


async def received(receiver: Receiver, count: int) -> bool:
    return len(receiver.requests) >= count


async def settled_attempts(
    reporting: Reporting, created: dict[str, Any], count: int
) -> list[dict[str, Any]] | None:
    attempts = await attempts_of(
        reporting.client, reporting.tenant, created["subscription_id"]
    )
    done = len(attempts) >= count and attempts[0]["delivery_state"] != "pending"
    return attempts if done else None


def verifies(secret: str, request: tuple[dict[str, str], bytes]) -> bool:
    headers, body = request
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


class TestRetries:
    async def test_timeout_then_success_same_id(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        monkeypatch.setenv("REPORTING_WEBHOOK_TIMEOUT_SECONDS", "0.5")
        receiver = SlowFirstReceiver()
        async with (
            serve_http(receiver.app) as base,
            reporting_running(monkeypatch) as reporting,
        ):
            created = await subscribe(
                reporting.client, reporting.tenant, f"{base}/hook", ["visit.completed"]
            )
            msg_id = await reporting.completed_visit()
            attempts = await eventually(
                lambda: settled_attempts(reporting, created, 2), timeout_seconds=15
            )

        first, second = receiver.requests[:2]
        assert verifies(created["secret"], first)
        assert verifies(created["secret"], second)
        assert first[0]["webhook-id"] == second[0]["webhook-id"] == msg_id
        assert [a["status_code"] for a in attempts] == [204, None]
        assert attempts[1]["error"] == "timed out after 0.5 s waiting for the receiver"
        assert attempts[0]["delivery_state"] == "delivered"

    async def test_retry_after_http_date_honoured(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        # The schedule alone would wait 60 s; the date asks for about 2 s.
        retry_at = datetime.now(UTC) + timedelta(seconds=2)
        receiver = Receiver(
            [429, 204], headers={"retry-after": format_datetime(retry_at, True)}
        )
        async with (
            serve_http(receiver.app) as base,
            reporting_running(monkeypatch, "60,60") as reporting,
        ):
            created = await subscribe(
                reporting.client, reporting.tenant, f"{base}/hook", ["visit.completed"]
            )
            await reporting.completed_visit()
            attempts = await eventually(
                lambda: settled_attempts(reporting, created, 2), timeout_seconds=15
            )

        assert [a["status_code"] for a in attempts] == [204, 429]
        first_at = datetime.fromisoformat(attempts[1]["attempted_at"])
        second_at = datetime.fromisoformat(attempts[0]["attempted_at"])
        assert second_at - first_at < timedelta(seconds=10)


class SlowFirstReceiver(Receiver):
    """Answers 204, but only after 2 s the first time."""

    def __init__(self) -> None:
        super().__init__([204])

    async def hook(self, request: Any) -> Any:
        self.delay_seconds = 2.0 if not self.requests else 0.0
        return await super().hook(request)


class TestRotation:
    async def test_both_secrets_sign_until_old_expires(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        receiver = Receiver([204])
        async with (
            serve_http(receiver.app) as base,
            reporting_running(monkeypatch) as reporting,
        ):
            created = await subscribe(
                reporting.client, reporting.tenant, f"{base}/hook", ["visit.completed"]
            )
            path = f"/webhooks/{created['subscription_id']}"
            rotated = await reporting.client.post(
                f"{path}/rotate-secret", headers=reporting.headers
            )
            await reporting.completed_visit(0)
            await eventually(lambda: received(receiver, 1))
            # A day later: the old secret's overlap is over.
            await reporting.execute(
                update(WebhookSubscription)
                .where(
                    WebhookSubscription.subscription_id == created["subscription_id"]
                )
                .values(previous_secret_expires_at=datetime.now(UTC))
            )
            await reporting.completed_visit(1)
            await eventually(lambda: received(receiver, 2))
            fetched = await reporting.client.get(path, headers=reporting.headers)

        assert rotated.status_code == 200, rotated.text
        old, new = created["secret"], rotated.json()["secret"]
        assert new != old
        assert new.startswith("whsec_")
        during, after = receiver.requests
        assert verifies(old, during)
        assert verifies(new, during)
        assert len(during[0]["webhook-signature"].split(" ")) == 2
        assert verifies(new, after)
        assert not verifies(old, after)
        assert "secret" not in fetched.json()

    async def test_unknown_subscription_not_found(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        async with reporting_running(monkeypatch) as reporting:
            other = await provision_tenant(reporting.client)
            created = await subscribe(
                reporting.client,
                reporting.tenant,
                "http://127.0.0.1:9/hook",
                ["visit.completed"],
            )
            response = await reporting.client.post(
                f"/webhooks/{created['subscription_id']}/rotate-secret",
                headers=auth(other),
            )

        assert response.status_code == 404
        assert created["subscription_id"] in response.json()["detail"]


class TestEnableDisable:
    async def test_disabled_gets_nothing_until_enabled(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        receiver = Receiver([204])
        async with (
            serve_http(receiver.app) as base,
            reporting_running(monkeypatch) as reporting,
        ):
            created = await subscribe(
                reporting.client, reporting.tenant, f"{base}/hook", ["visit.assigned"]
            )
            path = f"/webhooks/{created['subscription_id']}"
            disabled = await reporting.client.patch(
                path, json={"enabled": False}, headers=reporting.headers
            )
            await reporting.completed_visit(0)
            await wait_consumed()
            await asyncio.sleep(1.0)
            seen_while_disabled = len(receiver.requests)
            enabled = await reporting.client.patch(
                path,
                json={"enabled": True, "event_types": ["visit.completed"]},
                headers=reporting.headers,
            )
            msg_id = await reporting.completed_visit(1)
            await eventually(lambda: received(receiver, 1))

        assert disabled.status_code == 200, disabled.text
        assert disabled.json()["state"] == "disabled"
        assert disabled.json()["disabled_reason"] == "disabled by the tenant"
        assert seen_while_disabled == 0
        assert enabled.json()["state"] == "enabled"
        assert enabled.json()["disabled_reason"] is None
        assert enabled.json()["event_types"] == ["visit.completed"]
        assert [h["webhook-id"] for h, _ in receiver.requests] == [msg_id]

    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            ({"url": "http://10.0.0.1/hook"}, "private address"),
            ({"url": "ftp://127.0.0.1/hook"}, "must use http or https"),
            ({"event_types": ["visit.exploded"]}, "visit.exploded"),
            ({"enabeld": False}, "unknown field enabeld;"),
        ],
    )
    async def test_bad_change_refused(
        self,
        body: dict[str, Any],
        expected: str,
        monkeypatch: pytest.MonkeyPatch,
        service_env: object,
    ) -> None:
        async with reporting_running(monkeypatch) as reporting:
            created = await subscribe(
                reporting.client,
                reporting.tenant,
                "http://127.0.0.1:9/hook",
                ["visit.completed"],
            )
            path = f"/webhooks/{created['subscription_id']}"
            response = await reporting.client.patch(
                path, json=body, headers=reporting.headers
            )
            after = await reporting.client.get(path, headers=reporting.headers)

        assert response.status_code == 422, response.text
        assert expected in response.json()["detail"]
        assert after.json()["url"] == "http://127.0.0.1:9/hook"

    async def test_enabling_checks_stored_url_again(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        answers = {"hooks.campo.test": "127.0.0.1"}
        async with reporting_running(
            monkeypatch, resolve=dict_resolver(answers)
        ) as reporting:
            created = await subscribe(
                reporting.client,
                reporting.tenant,
                "http://hooks.campo.test:9/hook",
                ["visit.completed"],
            )
            path = f"/webhooks/{created['subscription_id']}"
            await reporting.client.patch(
                path, json={"enabled": False}, headers=reporting.headers
            )
            answers["hooks.campo.test"] = "169.254.169.254"
            response = await reporting.client.patch(
                path, json={"enabled": True}, headers=reporting.headers
            )
            after = await reporting.client.get(path, headers=reporting.headers)

        assert response.status_code == 422
        assert "cloud metadata" in response.json()["detail"]
        assert after.json()["state"] == "disabled"


def dict_resolver(answers: dict[str, str]) -> Resolver:
    """Resolve names from a dict that the test changes, never through DNS."""

    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"no test answer for {host}")
        return [answers[host]]

    return resolve


class TestDeliveryTimeAddressCheck:
    async def test_connects_to_checked_address_and_rechecks(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        # Real DNS knows no *.campo.test name, so a delivery that arrives went
        # to the address the injected resolver gave, not to a new lookup.
        answers = {"hooks.campo.test": "127.0.0.1"}
        receiver = Receiver([204])
        async with (
            serve_http(receiver.app) as base,
            reporting_running(monkeypatch, "30", dict_resolver(answers)) as reporting,
        ):
            port = base.rsplit(":", 1)[1]
            url = f"http://hooks.campo.test:{port}/hook"
            created = await subscribe(
                reporting.client, reporting.tenant, url, ["visit.completed"]
            )
            await reporting.completed_visit(0)
            await eventually(lambda: received(receiver, 1))
            answers["hooks.campo.test"] = "10.1.2.3"
            await reporting.completed_visit(1)
            attempts = await eventually(
                lambda: _attempts_with_error(reporting, created)
            )

        [(headers, _)] = receiver.requests
        assert headers["host"] == f"hooks.campo.test:{port}"
        assert "10.1.2.3, a private address" in attempts[0]["error"]
        assert attempts[0]["status_code"] is None

    async def test_slow_lookup_fails_inside_lease(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        """A host lookup slower than the timeout ends the attempt within it.

        Outside the timeout, such a lookup outlives the delivery's lease, and
        the delivery is claimed again and sent once more, over and over.
        """
        monkeypatch.setenv("REPORTING_WEBHOOK_TIMEOUT_SECONDS", "0.5")
        monkeypatch.setenv("REPORTING_WEBHOOK_LEASE_SECONDS", "2")
        slow = asyncio.Event()

        async def resolve(host: str, port: int) -> list[str]:
            if slow.is_set():
                await asyncio.sleep(4)
            return ["127.0.0.1"]

        receiver = Receiver([204])
        async with (
            serve_http(receiver.app) as base,
            reporting_running(monkeypatch, "30", resolve) as reporting,
        ):
            port = base.rsplit(":", 1)[1]
            url = f"http://hooks.campo.test:{port}/hook"
            created = await subscribe(
                reporting.client, reporting.tenant, url, ["visit.completed"]
            )
            slow.set()
            await reporting.completed_visit(0)
            await eventually(lambda: _attempts_with_error(reporting, created))
            # Past the lease and the slow lookup: nothing was claimed again.
            await asyncio.sleep(4.5)
            attempts = await attempts_of(
                reporting.client, reporting.tenant, created["subscription_id"]
            )

        assert receiver.requests == []
        assert len(attempts) == 1
        assert attempts[0]["error"] == (
            "timed out after 0.5 s resolving the receiver's host"
        )
        assert attempts[0]["delivery_state"] == "pending"


async def _attempts_with_error(
    reporting: Reporting, created: dict[str, Any]
) -> list[dict[str, Any]] | None:
    attempts = await attempts_of(
        reporting.client, reporting.tenant, created["subscription_id"]
    )
    return attempts if attempts and attempts[0]["error"] else None


class TestGivingUp:
    async def test_failing_for_days_disabled_and_tenant_told(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        receiver = Receiver([500])
        async with (
            serve_http(receiver.app) as base,
            reporting_running(monkeypatch, "1,1,1,1") as reporting,
        ):
            created = await subscribe(
                reporting.client, reporting.tenant, f"{base}/hook", ["visit.completed"]
            )
            subscription_id = created["subscription_id"]
            path = f"/webhooks/{subscription_id}"
            await reporting.completed_visit()
            await eventually(lambda: received(receiver, 1))
            first = await eventually(lambda: _failing_since(reporting, path))
            # Six days later the endpoint still fails.
            await reporting.execute(
                update(WebhookSubscription)
                .where(WebhookSubscription.subscription_id == subscription_id)
                .values(failing_since=WebhookSubscription.failing_since - SIX_DAYS)
            )
            fetched = await eventually(lambda: _disabled(reporting, path))
            told = await _stream_events(reporting, "webhook.disabled")
            attempts = await attempts_of(
                reporting.client, reporting.tenant, subscription_id
            )

        assert fetched["disabled_reason"].startswith("every attempt has failed since")
        assert "HTTP 500" in fetched["disabled_reason"]
        assert first["failing_since"] is not None
        assert [event.data["subscription_id"] for event in told] == [subscription_id]
        assert told[0].data["reason"] == fetched["disabled_reason"]
        assert attempts[0]["delivery_state"] == "cancelled"

    async def test_success_ends_failing_streak(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        receiver = Receiver([500, 204])
        async with (
            serve_http(receiver.app) as base,
            reporting_running(monkeypatch) as reporting,
        ):
            created = await subscribe(
                reporting.client, reporting.tenant, f"{base}/hook", ["visit.completed"]
            )
            await reporting.completed_visit()
            await eventually(lambda: settled_attempts(reporting, created, 2))
            fetched = await reporting.client.get(
                f"/webhooks/{created['subscription_id']}", headers=reporting.headers
            )

        assert fetched.json()["state"] == "enabled"
        assert fetched.json()["failing_since"] is None

    async def test_gone_tells_tenant_on_stream(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        receiver = Receiver([410])
        async with (
            serve_http(receiver.app) as base,
            reporting_running(monkeypatch) as reporting,
        ):
            created = await subscribe(
                reporting.client, reporting.tenant, f"{base}/hook", ["visit.completed"]
            )
            path = f"/webhooks/{created['subscription_id']}"
            await reporting.completed_visit()
            await eventually(lambda: _disabled(reporting, path))
            told = await _stream_events(reporting, "webhook.disabled")

        assert len(told) == 1
        assert "410" in told[0].data["reason"]


SIX_DAYS = timedelta(days=6)


async def _failing_since(reporting: Reporting, path: str) -> dict[str, Any] | None:
    response = await reporting.client.get(path, headers=reporting.headers)
    return response.json() if response.json()["failing_since"] else None


async def _disabled(reporting: Reporting, path: str) -> dict[str, Any] | None:
    response = await reporting.client.get(path, headers=reporting.headers)
    return response.json() if response.json()["state"] == "disabled" else None


async def _stream_events(reporting: Reporting, event_type: str) -> list[StreamEvent]:
    with tenant_scope(reporting.tenant.tenant_id):
        return await _tenant_stream_events(reporting, event_type)


async def _tenant_stream_events(
    reporting: Reporting, event_type: str
) -> list[StreamEvent]:
    async with reporting.runtime.sessionmaker() as session, session.begin():
        rows = await session.scalars(
            select(StreamEvent).where(
                StreamEvent.tenant_id == reporting.tenant.tenant_id,
                StreamEvent.event_type == event_type,
            )
        )
        return list(rows.all())


class TestSendingAgain:
    async def test_redelivery_keeps_webhook_id(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        receiver = Receiver([204])
        async with (
            serve_http(receiver.app) as base,
            reporting_running(monkeypatch) as reporting,
        ):
            created = await subscribe(
                reporting.client, reporting.tenant, f"{base}/hook", ["visit.completed"]
            )
            path = f"/webhooks/{created['subscription_id']}"
            msg_id = await reporting.completed_visit()
            await eventually(lambda: settled_attempts(reporting, created, 1))
            queued = await reporting.client.post(
                f"{path}/messages/{msg_id}/redeliver", headers=reporting.headers
            )
            unknown = await reporting.client.post(
                f"{path}/messages/msg_unknown/redeliver", headers=reporting.headers
            )
            attempts = await eventually(lambda: settled_attempts(reporting, created, 2))

        assert queued.status_code == 202, queued.text
        assert queued.json()["msg_ids"] == [msg_id]
        assert unknown.status_code == 404
        assert "msg_unknown" in unknown.json()["detail"]
        first, again = receiver.requests
        assert verifies(created["secret"], first)
        assert verifies(created["secret"], again)
        assert first[0]["webhook-id"] == again[0]["webhook-id"] == msg_id
        assert first[1] == again[1]
        assert [a["origin"] for a in attempts] == ["redelivery", "event"]
        assert attempts[0]["delivery_id"] == queued.json()["delivery_ids"][0]

    async def test_replay_sends_range_again(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        receiver = Receiver([204])
        async with (
            serve_http(receiver.app) as base,
            reporting_running(monkeypatch) as reporting,
        ):
            created = await subscribe(
                reporting.client, reporting.tenant, f"{base}/hook", ["visit.completed"]
            )
            path = f"/webhooks/{created['subscription_id']}"
            since = datetime.now(UTC) - timedelta(minutes=1)
            sent = [await reporting.completed_visit(i) for i in range(2)]
            await eventually(lambda: received(receiver, 2))
            replayed = await reporting.client.post(
                f"{path}/replay",
                json={"since": since.isoformat()},
                headers=reporting.headers,
            )
            await eventually(lambda: received(receiver, 4))
            attempts = await eventually(lambda: settled_attempts(reporting, created, 4))
            before = await reporting.client.post(
                f"{path}/replay",
                json={"since": since.isoformat(), "until": since.isoformat()},
                headers=reporting.headers,
            )
            too_long = await reporting.client.post(
                f"{path}/replay",
                json={"since": (since - timedelta(days=30)).isoformat()},
                headers=reporting.headers,
            )

        assert replayed.status_code == 202, replayed.text
        assert sorted(replayed.json()["msg_ids"]) == sorted(sent)
        ids = [headers["webhook-id"] for headers, _ in receiver.requests]
        assert sorted(ids[2:]) == sorted(sent)
        assert all(verifies(created["secret"], r) for r in receiver.requests)
        assert sorted(a["origin"] for a in attempts) == [
            "event",
            "event",
            "replay",
            "replay",
        ]
        assert before.status_code == 422
        assert "must come after" in before.json()["detail"]
        assert too_long.status_code == 422
        assert "shorter ranges" in too_long.json()["detail"]

    async def test_disabled_subscription_conflict(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        async with reporting_running(monkeypatch) as reporting:
            created = await subscribe(
                reporting.client,
                reporting.tenant,
                "http://127.0.0.1:9/hook",
                ["visit.completed"],
            )
            path = f"/webhooks/{created['subscription_id']}"
            await reporting.client.delete(path, headers=reporting.headers)
            response = await reporting.client.post(
                f"{path}/replay",
                json={"since": datetime.now(UTC).isoformat()},
                headers=reporting.headers,
            )

        assert response.status_code == 409
        assert "enable it with PATCH" in response.json()["detail"]


class TestListenWakeUp:
    async def test_redelivery_wakes_idle_worker(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        # Polling alone would take 60 s; only the NOTIFY of the redelivery's
        # transaction can wake the worker sooner.
        receiver = Receiver([204])
        async with (
            serve_http(receiver.app) as base,
            reporting_running(monkeypatch) as reporting,
        ):
            created = await subscribe(
                reporting.client, reporting.tenant, f"{base}/hook", ["visit.completed"]
            )
            msg_id = await reporting.completed_visit()
            await eventually(lambda: settled_attempts(reporting, created, 1))
            await eventually(lambda: _listening(reporting))
            monkeypatch.setattr(
                reporting.runtime.settings, "webhook_poll_interval_seconds", 60.0
            )
            await asyncio.sleep(1.0)  # the worker is now in a 60 s wait
            path = f"/webhooks/{created['subscription_id']}"
            await reporting.client.post(
                f"{path}/messages/{msg_id}/redeliver", headers=reporting.headers
            )
            await eventually(lambda: received(receiver, 2), timeout_seconds=5)

        assert len(receiver.requests) == 2

    async def test_listener_reconnects_after_drop(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        async with reporting_running(monkeypatch) as reporting:
            await eventually(lambda: _listening(reporting))
            [old_pid] = await _listener_pids(reporting)
            await _terminate_as_owner(reporting, old_pid)
            await eventually(
                lambda: _new_listener(reporting, old_pid), timeout_seconds=15
            )
            listening = commit_notifier(reporting.runtime).listening

        assert listening


async def _listening(reporting: Reporting) -> bool:
    return commit_notifier(reporting.runtime).listening


async def _terminate_as_owner(reporting: Reporting, pid: int) -> None:
    """Drop a backend as the login role: the service's role may not end it."""
    engine = create_engine(reporting.runtime.settings.database_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("SELECT pg_terminate_backend(:pid)").bindparams(pid=pid)
            )
    finally:
        await engine.dispose()


async def _listener_pids(reporting: Reporting) -> list[int]:
    async with reporting.runtime.sessionmaker() as session, session.begin():
        rows = await session.scalars(
            text(
                "SELECT pid FROM pg_stat_activity"
                " WHERE application_name = :name AND datname = current_database()"
            ).bindparams(name=APPLICATION_NAME)
        )
        return list(rows.all())


async def _new_listener(reporting: Reporting, old_pid: int) -> bool:
    pids = await _listener_pids(reporting)
    return bool(pids) and old_pid not in pids and await _listening(reporting)
