"""Webhook outcomes recorded in batches, and the worker in a process of its own.

These tests turn the worker off in the API process
(REPORTING_DELIVERY_IN_PROCESS=false) and drive it themselves: claiming and
recording by hand, running a worker task they cancel, or starting
`campo-reporting deliver` as a subprocess.
"""

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from reporting import recorder as recorder_module
from reporting import webhook_repository as store
from reporting.attempts import AttemptOutcome, next_step
from reporting.delivery import DeliveryWorker
from reporting.models import WebhookDelivery, WebhookSubscription
from reporting.outcomes import FinishedAttempt
from reporting.recorder import OutcomeRecorder
from shared.tenancy import platform_scope
from tests.fixtures.apps import eventually
from tests.integration.reporting.helpers import serve_http
from tests.integration.reporting.test_webhook_management import (
    SIX_DAYS,
    Reporting,
    _stream_events,
    received,
    reporting_running,
)
from tests.integration.reporting.test_webhooks import Receiver, attempts_of, subscribe

# Nothing listens there: the batch test records outcomes without POSTing.
UNUSED_URL = "http://127.0.0.1:9/hook"


def finished(row: Any, outcome: AttemptOutcome) -> FinishedAttempt:
    state, retry_in = next_step(row.attempts, outcome, (30.0, 30.0), jitter_ratio=0)
    return FinishedAttempt(
        tenant_id=row.tenant_id,
        delivery_id=row.delivery_id,
        subscription_id=row.subscription_id,
        msg_id=row.msg_id,
        attempt_number=row.attempts,
        outcome=outcome,
        state=state,
        retry_in_seconds=retry_in,
        finished_at=datetime.now(UTC),
    )


async def claim_until(reporting: Reporting, count: int) -> list[Any]:
    """Claim due deliveries as the worker would, until `count` are claimed."""
    claimed: list[Any] = []

    async def claim() -> list[Any] | None:
        with platform_scope():
            async with reporting.runtime.sessionmaker() as session, session.begin():
                rows = await store.claim_deliveries(
                    session,
                    in_flight={},
                    cap_per_subscription=4,
                    limit=10,
                    lease_seconds=60,
                )
        claimed.extend(rows)
        return claimed if len(claimed) >= count else None

    return await eventually(claim)


async def subscription(reporting: Reporting, subscription_id: str) -> dict[str, Any]:
    response = await reporting.client.get(
        f"/webhooks/{subscription_id}", headers=reporting.headers
    )
    assert response.status_code == 200
    return response.json()


async def queued(reporting: Reporting, msg_id: str) -> Any:
    with platform_scope():
        async with reporting.runtime.sessionmaker() as session:
            return await session.scalar(
                select(WebhookDelivery).where(WebhookDelivery.msg_id == msg_id)
            )


class TestBatchedOutcomes:
    async def test_one_flush_mixed_outcomes(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        monkeypatch.setenv("REPORTING_DELIVERY_IN_PROCESS", "false")
        writes: list[int] = []
        insert_attempts = store.insert_attempts

        async def counted(session: Any, columns: dict[str, list[Any]]) -> None:
            writes.append(len(columns["delivery_ids"]))
            await insert_attempts(session, columns)

        monkeypatch.setattr(store, "insert_attempts", counted)
        async with reporting_running(monkeypatch, "30,30") as reporting:
            ok, retry, gone, hopeless = [
                (
                    await subscribe(
                        reporting.client,
                        reporting.tenant,
                        UNUSED_URL,
                        ["visit.completed"],
                    )
                )["subscription_id"]
                for _ in range(4)
            ]
            # The last one has failed for six days already.
            await reporting.execute(
                update(WebhookSubscription)
                .where(WebhookSubscription.subscription_id == hopeless)
                .values(failing_since=datetime.now(UTC) - SIX_DAYS)
            )
            await reporting.completed_visit()
            rows = {
                str(row.subscription_id): row for row in await claim_until(reporting, 4)
            }
            recorder = OutcomeRecorder(
                reporting.runtime.sessionmaker, disable_after=timedelta(days=5)
            )
            recorder.add(finished(rows[ok], AttemptOutcome(204, None, 3)))
            recorder.add(finished(rows[retry], AttemptOutcome(500, "HTTP 500", 3)))
            recorder.add(finished(rows[gone], AttemptOutcome(410, "HTTP 410 Gone", 3)))
            recorder.add(finished(rows[hopeless], AttemptOutcome(503, "HTTP 503", 3)))
            with platform_scope():
                await recorder.flush()

            logs = {
                name: await attempts_of(reporting.client, reporting.tenant, sid)
                for name, sid in [
                    ("ok", ok),
                    ("retry", retry),
                    ("gone", gone),
                    ("hopeless", hopeless),
                ]
            }
            states = {
                name: await subscription(reporting, sid)
                for name, sid in [
                    ("ok", ok),
                    ("retry", retry),
                    ("gone", gone),
                    ("hopeless", hopeless),
                ]
            }
            disabled_events = await _stream_events(reporting, "webhook.disabled")

        assert writes == [4]
        assert {
            name: [a["delivery_state"] for a in log] for name, log in logs.items()
        } == {
            "ok": ["delivered"],
            "retry": ["pending"],
            "gone": ["failed"],
            "hopeless": ["cancelled"],
        }
        assert [a["status_code"] for a in logs["hopeless"]] == [503]
        assert states["ok"]["state"] == "enabled"
        assert states["ok"]["failing_since"] is None
        assert states["retry"]["state"] == "enabled"
        assert states["retry"]["failing_since"] is not None
        assert states["gone"]["state"] == "disabled"
        assert "410" in states["gone"]["disabled_reason"]
        assert states["hopeless"]["state"] == "disabled"
        assert "HTTP 503" in states["hopeless"]["disabled_reason"]
        disabled_ids = sorted(
            event.data["subscription_id"] for event in disabled_events
        )
        assert disabled_ids == sorted([gone, hopeless])


class TestClaimPlans:
    async def test_claim_plans_afresh(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        """A claim gets a plan for the table as it is now, not one kept from
        when it was empty. The setting ends with the claim's transaction."""
        monkeypatch.setenv("REPORTING_DELIVERY_IN_PROCESS", "false")
        show = text("SELECT current_setting('plan_cache_mode')")
        async with reporting_running(monkeypatch, "30,30") as reporting:
            with platform_scope():
                async with reporting.runtime.sessionmaker() as session:
                    async with session.begin():
                        before = await session.scalar(show)
                        await store.claim_deliveries(
                            session,
                            in_flight={},
                            cap_per_subscription=4,
                            limit=10,
                            lease_seconds=60,
                        )
                        during = await session.scalar(show)
                    async with session.begin():
                        after = await session.scalar(show)
        assert (before, during, after) == ("auto", "force_custom_plan", "auto")


class TestCrashBeforeRecording:
    async def test_lost_outcome_resent_same_id(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        """A worker that POSTs and dies before writing the outcome costs a resend."""
        monkeypatch.setenv("REPORTING_DELIVERY_IN_PROCESS", "false")
        monkeypatch.setenv("REPORTING_WEBHOOK_TIMEOUT_SECONDS", "1")
        monkeypatch.setenv("REPORTING_WEBHOOK_LEASE_SECONDS", "2")
        monkeypatch.setattr(recorder_module, "RETRY_WRITE_SECONDS", 0.01)
        record_outcomes = recorder_module.record_outcomes
        rejected_batches: list[int] = []

        async def database_gone(session: Any, batch: Any, **_: Any) -> list[str]:
            rejected_batches.append(len(batch))
            raise ConnectionError("the database went away")

        receiver = Receiver([204])
        async with (
            serve_http(receiver.app) as base,
            reporting_running(monkeypatch) as reporting,
        ):
            created = await subscribe(
                reporting.client, reporting.tenant, f"{base}/hook", ["visit.completed"]
            )
            monkeypatch.setattr(recorder_module, "record_outcomes", database_gone)
            crashing = start_worker(reporting)
            msg_id = await reporting.completed_visit()
            await eventually(lambda: received(receiver, 1))
            await eventually(lambda: _true(bool(rejected_batches)))
            crashing.cancel()
            await asyncio.gather(crashing, return_exceptions=True)

            monkeypatch.setattr(recorder_module, "record_outcomes", record_outcomes)
            healthy = start_worker(reporting)
            try:
                await eventually(lambda: received(receiver, 2))
                attempts = await eventually(
                    lambda: _settled(reporting, created["subscription_id"])
                )
            finally:
                healthy.cancel()
                await asyncio.gather(healthy, return_exceptions=True)

        ids = [headers["webhook-id"] for headers, _ in receiver.requests]
        assert ids == [msg_id, msg_id]
        assert [(a["attempt_number"], a["delivery_state"]) for a in attempts] == [
            (2, "delivered")
        ]


def start_worker(reporting: Reporting) -> asyncio.Task[None]:
    # The task copies the platform scope that background work runs in.
    with platform_scope():
        return asyncio.create_task(DeliveryWorker(reporting.runtime).run())


async def _true(value: bool) -> bool:
    return value


async def _settled(reporting: Reporting, subscription_id: str) -> Any:
    attempts = await attempts_of(reporting.client, reporting.tenant, subscription_id)
    return attempts if attempts and attempts[0]["delivery_state"] != "pending" else None


class TestDeliverCommand:
    async def test_deliver_process_sends_api_not(
        self, monkeypatch: pytest.MonkeyPatch, service_env: object
    ) -> None:
        monkeypatch.setenv("REPORTING_DELIVERY_IN_PROCESS", "false")
        receiver = Receiver([204])
        async with (
            serve_http(receiver.app) as base,
            reporting_running(monkeypatch) as reporting,
        ):
            await subscribe(
                reporting.client, reporting.tenant, f"{base}/hook", ["visit.completed"]
            )
            msg_id = await reporting.completed_visit()
            await eventually(lambda: queued(reporting, msg_id))
            # Three poll intervals of a worker, had the API process one.
            await asyncio.sleep(1.5)
            sent_by_api = list(receiver.requests)

            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "reporting.cli",
                "deliver",
                env=dict(os.environ),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                await eventually(lambda: received(receiver, 1), timeout_seconds=60)
            finally:
                process.send_signal(signal.SIGTERM)
                _, errors = await asyncio.wait_for(process.communicate(), 30)
            delivery = await eventually(lambda: _delivered(reporting, msg_id))

        assert sent_by_api == []
        assert [headers["webhook-id"] for headers, _ in receiver.requests] == [msg_id]
        assert process.returncode == 0, errors.decode()[-2000:]
        assert delivery.attempts == 1


async def _delivered(reporting: Reporting, msg_id: str) -> Any:
    delivery = await queued(reporting, msg_id)
    return delivery if delivery is not None and delivery.state == "delivered" else None
