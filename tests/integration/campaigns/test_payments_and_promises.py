"""Payments reported to ingest mark the promise made at the door kept."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from tests.fixtures.apps import eventually
from tests.fixtures.tenants import make_tenant
from tests.integration.campaigns.helpers import (
    LaunchedVisit,
    Services,
    Sessionmaker,
    launch_one_visit,
)
from visits.models import Promise


async def visit_with_promise(
    services: Services, sessionmaker: Sessionmaker, amount: str
) -> LaunchedVisit:
    launched = await launch_one_visit(services, sessionmaker, await make_tenant())
    path = f"/agent/visits/{launched.visit_id}"
    now = datetime.now(UTC)
    checked_in = await services.visits.post(
        f"{path}/check-in",
        headers=launched.agent_headers,
        json={
            "lat": launched.where.lat,
            "lon": launched.where.lon,
            "accuracy_m": 10,
            "device_time": now.isoformat(),
        },
    )
    assert checked_in.status_code == 201, checked_in.text
    result = await services.visits.post(
        f"{path}/result",
        headers=launched.agent_headers,
        json={
            "submission_id": f"sub-{uuid.uuid4().hex}",
            "device_time": now.isoformat(),
            "person_met": "debtor",
            "result_code": "promise_to_pay",
            "debtor_lives_there": True,
            "promise": {
                "amount": amount,
                "currency": "MXN",
                "due_date": (now.date() + timedelta(days=7)).isoformat(),
            },
            "answers": {"works": True},
        },
    )
    assert result.status_code == 201, result.text
    return launched


async def wait_for_promise(
    sessionmaker: Sessionmaker, visit_id: uuid.UUID, status: str
) -> Promise:
    async def reached() -> Promise | None:
        async with sessionmaker() as session:
            promise = await session.scalar(
                select(Promise).where(Promise.visit_id == visit_id)
            )
        return promise if promise is not None and promise.status == status else None

    return await eventually(reached, message=f"promise of {visit_id} {status}")


def payment(account_key: str, amount: str, reference: str) -> dict[str, str]:
    return {
        "account_key": account_key,
        "amount": amount,
        "paid_on": date.today().isoformat(),
        "reference": reference,
    }


class TestPromiseKept:
    async def test_payments_keep_promise(
        self, services: Services, sessionmaker: Sessionmaker
    ) -> None:
        launched = await visit_with_promise(services, sessionmaker, "1500.00")
        key = launched.account_key

        first = await services.ingest.post(
            "/payments", headers=launched.headers, json=payment(key, "1000", "P-1")
        )

        assert first.status_code == 201, first.text
        partly = await wait_for_promise(sessionmaker, launched.visit_id, "partly_kept")
        assert partly.amount_kept == Decimal("1000.00")
        assert partly.kept_at is None

        repeated = await services.ingest.post(
            "/payments", headers=launched.headers, json=payment(key, "1000", "P-1")
        )
        assert repeated.status_code == 200
        assert repeated.json()["payment_id"] == first.json()["payment_id"]

        second = await services.ingest.post(
            "/payments", headers=launched.headers, json=payment(key, "500", "P-2")
        )
        assert second.status_code == 201, second.text
        kept = await wait_for_promise(sessionmaker, launched.visit_id, "kept")
        assert kept.amount_kept == Decimal("1500.00")
        assert kept.kept_at is not None
