"""Payment promises: payments from integrators, the broken pass, and their events."""

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.tenants import CreatedTenant
from shared.events import Envelope
from shared.events.payloads import Money, Payload, PaymentReported
from shared.outbox import add_event
from tests.fixtures.apps import eventually
from tests.fixtures.events import publish
from tests.integration.visits.conftest import _tenant_known
from tests.integration.visits.helpers import (
    AssignedVisit,
    Sessionmaker,
    checked_in_visit,
    result_body,
    tenant_headers,
    visit_events,
)
from visits.models import Promise, common
from visits.promises import break_overdue_promises
from visits.settings import VisitsSettings

MEXICO_CITY = "America/Mexico_City"
GRACE_DAYS = 2
PROMISE_EVENTS = (
    "campo.promise.kept",
    "campo.promise.partly_kept",
    "campo.promise.broken",
)


@pytest_asyncio.fixture(scope="module")
async def grace_tenant(visits: httpx.AsyncClient) -> CreatedTenant:
    """A tenant of its own, so that its grace days touch no other test."""
    tenant = await _tenant_known(visits)
    response = await visits.put(
        "/settings/visit-rules",
        json={"max_visits_per_account_week": None, "promise_grace_days": GRACE_DAYS},
        headers=tenant_headers(tenant),
    )
    assert response.status_code == 200, response.text
    assert response.json()["promise_grace_days"] == GRACE_DAYS
    return tenant


async def _emit(session: AsyncSession, payload: Payload) -> object:
    return await add_event(
        session, common, payload, source="/visits", settings=VisitsSettings()
    )


async def _promised_visit(
    client: httpx.AsyncClient, tenant: CreatedTenant, *, due_date: date | None = None
) -> tuple[AssignedVisit, uuid.UUID]:
    """Return a completed visit whose result promised 1500.00 MXN, and the promise."""
    agent_visit = await checked_in_visit(
        client, tenant.tenant_id, time_zone=MEXICO_CITY
    )
    promise = result_body()["promise"]
    if due_date is not None:
        promise |= {"due_date": due_date.isoformat()}
    response = await client.post(
        f"{agent_visit.path}/result",
        json=result_body(promise=promise),
        headers=agent_visit.headers,
    )
    assert response.status_code == 201, response.text
    return agent_visit, uuid.UUID(response.json()["promise"]["promise_id"])


def _payment(
    agent_visit: AssignedVisit, amount: str, payment_id: uuid.UUID | None = None
) -> PaymentReported:
    request = agent_visit.request
    return PaymentReported(
        tenant_id=request.tenant_id,
        payment_id=payment_id or uuid.uuid4(),
        account_id=request.account_id,
        account_key=request.account_key,
        amount=Money(amount=Decimal(amount), currency="MXN"),
        paid_on=datetime.now(UTC).date(),
        reference=f"SPEI-{uuid.uuid4().hex[:10]}",
        reported_at=datetime.now(UTC),
    )


async def _promise(sessionmaker: Sessionmaker, promise_id: uuid.UUID) -> Promise:
    async with sessionmaker() as session:
        promise = await session.get(Promise, promise_id)
    assert promise is not None
    return promise


async def _promise_when(
    sessionmaker: Sessionmaker,
    promise_id: uuid.UUID,
    reached: Callable[[Promise], bool],
    description: str,
) -> Promise:
    async def probe() -> Promise | None:
        promise = await _promise(sessionmaker, promise_id)
        return promise if reached(promise) else None

    return await eventually(probe, message=f"promise {promise_id} {description}")


async def _promise_events(
    sessionmaker: Sessionmaker, agent_visit: AssignedVisit
) -> list[Envelope]:
    events = await visit_events(sessionmaker, agent_visit.request.visit_id)
    return [event for event in events if event.type in PROMISE_EVENTS]


def _summary(events: list[Envelope]) -> list[tuple[str, str, str]]:
    return [
        (event.type, event.data["status"], event.data["amount_paid"]["amount"])
        for event in events
    ]


def _last_moment_to_pay(due_date: date) -> datetime:
    """The last microsecond of the last day to pay, in Mexico City."""
    next_day = due_date + timedelta(days=GRACE_DAYS + 1)
    midnight = datetime.combine(next_day, time(), tzinfo=ZoneInfo(MEXICO_CITY))
    return midnight - timedelta(microseconds=1)


async def _break(sessionmaker: Sessionmaker, now: datetime) -> int:
    return await break_overdue_promises(sessionmaker, emit=_emit, now=now)


class TestPayments:
    async def test_full_payment_keeps(
        self,
        visits: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        grace_tenant: CreatedTenant,
    ) -> None:
        agent_visit, promise_id = await _promised_visit(visits, grace_tenant)
        payment = _payment(agent_visit, "1500.00")
        await publish([payment])

        promise = await _promise_when(
            sessionmaker, promise_id, lambda p: p.status == "kept", "kept"
        )
        assert promise.amount_kept == Decimal("1500.00")
        assert promise.kept_at is not None
        [event] = await _promise_events(sessionmaker, agent_visit)
        assert event.type == "campo.promise.kept"
        assert event.subject == str(agent_visit.request.visit_id)
        request = agent_visit.request
        assert event.data | {"changed_at": None} == {
            "tenant_id": str(request.tenant_id),
            "promise_id": str(promise_id),
            "visit_id": str(request.visit_id),
            "campaign_id": str(request.campaign_id),
            "account_id": str(request.account_id),
            "amount": {"amount": "1500.00", "currency": "MXN"},
            "amount_paid": {"amount": "1500.00", "currency": "MXN"},
            "due_date": promise.due_date.isoformat(),
            "status": "kept",
            "payment_id": str(payment.payment_id),
            "broken_at": None,
            "changed_at": None,
        }

    async def test_part_payment_partly_keeps(
        self,
        visits: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        grace_tenant: CreatedTenant,
    ) -> None:
        agent_visit, promise_id = await _promised_visit(visits, grace_tenant)
        await publish([_payment(agent_visit, "400.00")])

        promise = await _promise_when(
            sessionmaker, promise_id, lambda p: p.amount_kept > 0, "paid"
        )
        assert promise.status == "partly_kept"
        assert promise.kept_at is None
        events = await _promise_events(sessionmaker, agent_visit)
        assert _summary(events) == [
            ("campo.promise.partly_kept", "partly_kept", "400.00")
        ]

    async def test_two_payments_keep(
        self,
        visits: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        grace_tenant: CreatedTenant,
    ) -> None:
        agent_visit, promise_id = await _promised_visit(visits, grace_tenant)
        await publish(
            [_payment(agent_visit, "1000.00"), _payment(agent_visit, "500.00")]
        )

        promise = await _promise_when(
            sessionmaker, promise_id, lambda p: p.status == "kept", "kept"
        )
        assert promise.amount_kept == Decimal("1500.00")
        events = await _promise_events(sessionmaker, agent_visit)
        assert _summary(events) == [
            ("campo.promise.partly_kept", "partly_kept", "1000.00"),
            ("campo.promise.kept", "kept", "1500.00"),
        ]

    async def test_repeated_payment_ignored(
        self,
        visits: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        grace_tenant: CreatedTenant,
    ) -> None:
        agent_visit, promise_id = await _promised_visit(visits, grace_tenant)
        payment = _payment(agent_visit, "400.00")
        # The same payment reported again under a new event id, then another
        # payment: the account's events are ordered, so once the last one is
        # applied the repeat has been handled.
        await publish([payment, payment, _payment(agent_visit, "100.00")])

        promise = await _promise_when(
            sessionmaker,
            promise_id,
            lambda p: p.amount_kept == Decimal("500.00"),
            "paid 500.00",
        )
        assert promise.status == "partly_kept"
        events = await _promise_events(sessionmaker, agent_visit)
        assert _summary(events) == [
            ("campo.promise.partly_kept", "partly_kept", "400.00"),
            ("campo.promise.partly_kept", "partly_kept", "500.00"),
        ]
        assert events[0].data["payment_id"] == str(payment.payment_id)


class TestBroken:
    async def test_broken_after_grace_ends(
        self,
        visits: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        grace_tenant: CreatedTenant,
    ) -> None:
        due_date = datetime.now(UTC).date()
        agent_visit, promise_id = await _promised_visit(
            visits, grace_tenant, due_date=due_date
        )
        last_moment = _last_moment_to_pay(due_date)

        await _break(sessionmaker, last_moment)
        assert (await _promise(sessionmaker, promise_id)).status == "pending"

        after = last_moment + timedelta(microseconds=1)
        assert await _break(sessionmaker, after) >= 1
        promise = await _promise(sessionmaker, promise_id)
        assert promise.status == "broken"
        assert promise.broken_at == after
        [event] = await _promise_events(sessionmaker, agent_visit)
        assert event.type == "campo.promise.broken"
        assert event.data["amount_paid"] == {"amount": "0.00", "currency": "MXN"}
        assert event.data["due_date"] == due_date.isoformat()
        assert event.data["payment_id"] is None

        # A second pass finds nothing more to break for this promise.
        await _break(sessionmaker, after + timedelta(days=1))
        assert len(await _promise_events(sessionmaker, agent_visit)) == 1

    async def test_late_payments_after_broken(
        self,
        visits: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        grace_tenant: CreatedTenant,
    ) -> None:
        due_date = datetime.now(UTC).date()
        agent_visit, promise_id = await _promised_visit(
            visits, grace_tenant, due_date=due_date
        )
        broken_at = _last_moment_to_pay(due_date) + timedelta(hours=1)
        await _break(sessionmaker, broken_at)
        assert (await _promise(sessionmaker, promise_id)).status == "broken"

        await publish([_payment(agent_visit, "600.00")])
        promise = await _promise_when(
            sessionmaker, promise_id, lambda p: p.amount_kept > 0, "paid late"
        )
        assert promise.status == "partly_kept"
        # Once broken, a promise is not broken again by later passes.
        await _break(sessionmaker, broken_at + timedelta(days=2))
        assert (await _promise(sessionmaker, promise_id)).status == "partly_kept"

        await publish([_payment(agent_visit, "900.00")])
        promise = await _promise_when(
            sessionmaker, promise_id, lambda p: p.status == "kept", "kept late"
        )
        assert promise.broken_at == broken_at
        events = await _promise_events(sessionmaker, agent_visit)
        assert _summary(events) == [
            ("campo.promise.broken", "broken", "0.00"),
            ("campo.promise.partly_kept", "partly_kept", "600.00"),
            ("campo.promise.kept", "kept", "1500.00"),
        ]
        assert all(event.data["broken_at"] is not None for event in events)


class TestGraceSetting:
    async def test_grace_defaults_to_three(self, visits: httpx.AsyncClient) -> None:
        fresh = await _tenant_known(visits)
        response = await visits.get(
            "/settings/visit-rules", headers=tenant_headers(fresh)
        )
        assert response.status_code == 200, response.text
        assert response.json()["promise_grace_days"] == 3

    async def test_bad_grace_rejected(
        self, visits: httpx.AsyncClient, grace_tenant: CreatedTenant
    ) -> None:
        for bad in (-1, 61, "3", True, 2.5):
            body: dict[str, Any] = {
                "max_visits_per_account_week": None,
                "promise_grace_days": bad,
            }
            response = await visits.put(
                "/settings/visit-rules", json=body, headers=tenant_headers(grace_tenant)
            )
            assert response.status_code == 422, (bad, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        response = await visits.get(
            "/settings/visit-rules", headers=tenant_headers(grace_tenant)
        )
        assert response.json()["promise_grace_days"] == GRACE_DAYS
