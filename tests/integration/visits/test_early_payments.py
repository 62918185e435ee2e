"""Payments reported before the visit's promise is recorded count for it."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select

from ingest.tenants import CreatedTenant
from shared.events.payloads import Money, PaymentReported
from tests.fixtures.apps import eventually
from tests.fixtures.events import publish
from tests.integration.visits.helpers import (
    AssignedVisit,
    Sessionmaker,
    checked_in_visit,
    result_body,
    visit_events,
)
from visits.models import Promise, PromisePayment

MEXICO_CITY = "America/Mexico_City"


def payment(visit: AssignedVisit, amount: str, *, paid_on: date) -> PaymentReported:
    request = visit.request
    return PaymentReported(
        tenant_id=request.tenant_id,
        payment_id=uuid.uuid4(),
        account_id=request.account_id,
        account_key=request.account_key,
        amount=Money(amount=Decimal(amount), currency="MXN"),
        paid_on=paid_on,
        reference=f"SPEI-{uuid.uuid4().hex[:10]}",
        reported_at=datetime.now(UTC),
    )


async def stored(sessionmaker: Sessionmaker, payments: list[PaymentReported]) -> None:
    ids = [p.payment_id for p in payments]

    async def all_stored() -> bool:
        async with sessionmaker() as session:
            found = await session.scalars(
                select(PromisePayment.payment_id).where(
                    PromisePayment.payment_id.in_(ids)
                )
            )
            return len(list(found)) == len(ids)

    await eventually(all_stored, message="payments stored for the account")


async def file_promise(client: httpx.AsyncClient, visit: AssignedVisit) -> uuid.UUID:
    response = await client.post(
        f"{visit.path}/result", json=result_body(), headers=visit.headers
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["promise"]["promise_id"])


def check_in_day() -> date:
    return datetime.now(ZoneInfo(MEXICO_CITY)).date()


class TestPaymentBeforePromise:
    async def test_payment_on_check_in_day_counts(
        self,
        visits: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        tenant: CreatedTenant,
    ) -> None:
        visit = await checked_in_visit(visits, tenant.tenant_id, time_zone=MEXICO_CITY)
        early = payment(visit, "1000.00", paid_on=check_in_day())
        older = payment(visit, "300.00", paid_on=check_in_day() - timedelta(days=1))
        await publish([early, older])
        await stored(sessionmaker, [early, older])

        promise_id = await file_promise(visits, visit)

        async with sessionmaker() as session:
            promise = await session.get(Promise, promise_id)
            unclaimed = await session.scalar(
                select(PromisePayment.promise_id).where(
                    PromisePayment.payment_id == older.payment_id
                )
            )
        assert promise is not None
        assert promise.status == "partly_kept"
        assert promise.amount_kept == Decimal("1000.00")
        assert unclaimed is None
        events = await visit_events(sessionmaker, visit.request.visit_id)
        types = [event.type for event in events]
        assert types.index("campo.promise.made") < types.index(
            "campo.promise.partly_kept"
        )
        [partly] = [e for e in events if e.type == "campo.promise.partly_kept"]
        assert partly.data["payment_id"] == str(early.payment_id)
        assert partly.data["amount_paid"]["amount"] == "1000.00"

    async def test_early_and_later_payments_keep(
        self,
        visits: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        tenant: CreatedTenant,
    ) -> None:
        visit = await checked_in_visit(visits, tenant.tenant_id, time_zone=MEXICO_CITY)
        early = payment(visit, "1000.00", paid_on=check_in_day())
        await publish([early])
        await stored(sessionmaker, [early])
        promise_id = await file_promise(visits, visit)

        # The repeat goes first: on one key, it is handled before the new one.
        await publish([early, payment(visit, "500.00", paid_on=check_in_day())])

        async def kept() -> Promise | None:
            async with sessionmaker() as session:
                found = await session.get(Promise, promise_id)
            return found if found is not None and found.status == "kept" else None

        promise = await eventually(kept, message=f"promise {promise_id} kept")
        assert promise.amount_kept == Decimal("1500.00")
