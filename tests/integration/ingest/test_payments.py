"""Payments reported one by one and from a CSV file."""

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from ingest.app import create_app
from ingest.models import common
from ingest.payments import file
from ingest.settings import IngestSettings
from ingest.tenants import CreatedTenant
from shared.db import create_engine, create_sessionmaker
from shared.events import topics
from tests.fixtures.apps import running_app
from tests.fixtures.events import read_events
from tests.fixtures.portfolios import account_row
from tests.fixtures.tenants import make_tenant
from tests.integration.ingest.helpers import upload_rows

TODAY = date.today().isoformat()


@pytest.fixture(scope="module")
async def client():
    async with running_app(create_app()) as client:
        yield client


@pytest.fixture
async def tenant(client: httpx.AsyncClient) -> CreatedTenant:
    tenant = await make_tenant()
    await upload_rows(
        client, tenant.api_key.key, [account_row("P-1"), account_row("P-2")]
    )
    return tenant


def payment(reference: str, amount: str = "250.00", **fields: Any) -> dict[str, Any]:
    return {
        "account_key": "P-1",
        "amount": amount,
        "paid_on": TODAY,
        "reference": reference,
        **fields,
    }


async def outbox_payments(tenant: CreatedTenant) -> int:
    """Count the payment events ingest wrote for the tenant, sent or not."""
    outbox = common.outbox
    engine = create_engine(IngestSettings().database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            count = await session.scalar(
                select(func.count()).where(
                    outbox.c.tenant_id == tenant.tenant_id,
                    outbox.c.event_type == "campo.payment.reported",
                )
            )
    finally:
        await engine.dispose()
    return count or 0


async def reported_events(tenant: CreatedTenant, count: int) -> list[Any]:
    return await read_events(
        topics.PAYMENTS, count=count, where=lambda e: e.tenant_id == tenant.tenant_id
    )


class TestReportPayment:
    async def test_same_reference_is_one_payment(self, client, tenant) -> None:
        headers = {"X-API-Key": tenant.api_key.key}

        first = await client.post("/payments", headers=headers, json=payment("T-1"))
        again = await client.post("/payments", headers=headers, json=payment("T-1"))

        assert first.status_code == 201, first.text
        assert again.status_code == 200
        assert again.json() == first.json()
        assert first.json()["currency"] == "MXN"
        [event] = await reported_events(tenant, 1)
        assert event.type == "campo.payment.reported"
        assert event.subject == first.json()["account_id"]
        assert event.data["amount"] == {"amount": "250.00", "currency": "MXN"}
        assert event.data["reference"] == "T-1"
        assert await outbox_payments(tenant) == 1

    async def test_reference_reused_with_other_amount(self, client, tenant) -> None:
        headers = {"X-API-Key": tenant.api_key.key}
        await client.post("/payments", headers=headers, json=payment("T-2"))

        reused = await client.post(
            "/payments", headers=headers, json=payment("T-2", amount="300.00")
        )

        assert reused.status_code == 409
        assert reused.json()["type"].endswith("payment-reference-reused")
        assert "'T-2'" in reused.json()["detail"]
        assert "new reference" in reused.json()["detail"]

    async def test_idempotency_key_replays_response(self, client, tenant) -> None:
        headers = {"X-API-Key": tenant.api_key.key, "Idempotency-Key": "pay-1"}

        first = await client.post("/payments", headers=headers, json=payment("T-3"))
        replay = await client.post("/payments", headers=headers, json=payment("T-3"))
        other = await client.post("/payments", headers=headers, json=payment("T-4"))

        assert first.status_code == replay.status_code == 201
        assert replay.json()["payment_id"] == first.json()["payment_id"]
        assert other.status_code == 422
        assert other.json()["type"].endswith("idempotency-key-reused")
        assert "pay-1" in other.json()["detail"]

    async def test_same_reference_other_account_is_new(self, client, tenant) -> None:
        headers = {"X-API-Key": tenant.api_key.key}

        first = await client.post("/payments", headers=headers, json=payment("T-5"))
        second = await client.post(
            "/payments", headers=headers, json=payment("T-5", account_key="P-2")
        )

        assert second.status_code == 201
        assert second.json()["payment_id"] != first.json()["payment_id"]

    async def test_amount_and_date_as_files_write(self, client, tenant) -> None:
        response = await client.post(
            "/payments",
            headers={"X-API-Key": tenant.api_key.key},
            json=payment("T-16", amount="1.234,56", paid_on="01/03/2024"),
        )

        assert response.status_code == 201, response.text
        assert response.json()["amount"] == "1234.56"
        assert response.json()["paid_on"] == "2024-03-01"

    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            (payment("T-6", account_key="nope"), "account 'nope' not found"),
            (
                payment("T-7", paid_on=(date.today() + timedelta(days=2)).isoformat()),
                "is in the future",
            ),
            (payment("T-8", amount="0"), "amount"),
            (payment("T-10", currency="XXX"), "XXX is not an ISO 4217 currency"),
            (
                payment("T-11", currency="USD"),
                "the payment is in USD but account 'P-1' is in MXN",
            ),
            (payment("T-12", paid_on="0001-01-01"), "is before 2000-01-01"),
            (payment("T-13", paid_on="31/02/2024"), "paid_on 31/02/2024"),
            (payment("T-14", amount="-5"), "amount -5 is negative"),
            (payment("T-15", amount="1.234"), "amount 1.234: 1.234 is ambiguous"),
            (
                {"amount": "10", "paid_on": TODAY, "reference": "T-9"},
                "exactly one of account_key or account_id",
            ),
        ],
    )
    async def test_invalid_payment_rejected(
        self, client, tenant, body, expected
    ) -> None:
        response = await client.post(
            "/payments", headers={"X-API-Key": tenant.api_key.key}, json=body
        )

        assert response.status_code == 422
        assert expected in response.text


class TestPaymentFile:
    async def test_file_reports_each_row(self, client, tenant) -> None:
        content = "\n".join(
            [
                "account_key,amount,currency,paid_on,reference",
                f"P-1,100.00,MXN,{TODAY},F-1",
                f"P-2,200.50,,{TODAY},F-2",
                f"P-1,100.00,MXN,{TODAY},F-1",
                f"P-9,50,MXN,{TODAY},F-3",
                f"P-2,abc,MXN,{TODAY},F-4",
            ]
        ).encode()

        response = await client.post(
            "/payments/file",
            headers={"X-API-Key": tenant.api_key.key},
            files={"file": ("pagos.csv", content)},
        )

        assert response.status_code == 200, response.text
        report = response.json()
        assert report["rows_total"] == 5
        assert report["payments_created"] == 2
        assert report["duplicates"] == 1
        assert report["rows_invalid"] == 2
        errors = {(error["row"], error["column"]) for error in report["errors"]}
        assert errors == {(5, None), (6, "amount")}
        bad_amount = next(error for error in report["errors"] if error["row"] == 6)
        assert bad_amount["value"] == "abc"
        events = await reported_events(tenant, 2)
        assert sorted(event.data["reference"] for event in events) == ["F-1", "F-2"]
        assert await outbox_payments(tenant) == 2

    async def test_file_names_negative_and_blank(self, client, tenant) -> None:
        content = "\n".join(
            [
                "account_key,amount,paid_on,reference",
                f"P-1,-5,{TODAY},N-1",
                f"P-1,10,{TODAY},",
            ]
        ).encode()

        response = await client.post(
            "/payments/file",
            headers={"X-API-Key": tenant.api_key.key},
            files={"file": ("pagos.csv", content)},
        )

        messages = {
            error["row"]: error["message"] for error in response.json()["errors"]
        }
        assert "amount -5 is negative" in messages[2]
        assert messages[3] == "reference is required and is empty; fill it in"

    async def test_semicolon_file_read(self, client, tenant) -> None:
        content = f"account_key;amount;paid_on;reference\nP-2;75.25;{TODAY};S-1\n"

        response = await client.post(
            "/payments/file",
            headers={"X-API-Key": tenant.api_key.key},
            files={"file": ("pagos.csv", content.encode())},
        )

        assert response.status_code == 200, response.text
        assert response.json()["payments_created"] == 1
        assert response.json()["errors"] == []

    async def test_file_without_reference_column(self, client, tenant) -> None:
        content = f"account_key,amount,paid_on\nP-1,10,{TODAY}\n".encode()

        response = await client.post(
            "/payments/file",
            headers={"X-API-Key": tenant.api_key.key},
            files={"file": ("pagos.csv", content)},
        )

        assert response.status_code == 422
        assert "lacks reference" in response.json()["detail"]


class TestPaymentFileRows:
    async def post_file(self, client, tenant, content: str) -> httpx.Response:
        return await client.post(
            "/payments/file",
            headers={"X-API-Key": tenant.api_key.key},
            files={"file": ("pagos.csv", content.encode())},
        )

    async def test_nul_rejects_only_its_row(self, client, tenant) -> None:
        content = (
            "account_key,amount,paid_on,reference\n"
            f"P-1,10.00,{TODAY},N-1\n"
            f"P-2,10.00,{TODAY},N\x002\n"
        )

        response = await self.post_file(client, tenant, content)

        assert response.status_code == 200, response.text
        report = response.json()
        assert report["payments_created"] == 1
        assert report["rows_invalid"] == 1
        assert report["errors"][0]["row"] == 3
        assert report["errors"][0]["column"] == "reference"
        assert "NUL" in report["errors"][0]["message"]

    async def test_portfolio_formats_accepted(self, client, tenant) -> None:
        day = date.today() - timedelta(days=3)
        content = (
            "account_key;amount;paid_on;reference\n"
            f"P-1;1.234,56;{day.strftime('%d/%m/%Y')};M-1\n"
            f'P-2;"$2,500.00";{day.isoformat()};M-2\n'
        )

        response = await self.post_file(client, tenant, content)

        assert response.status_code == 200, response.text
        assert response.json()["errors"] == []
        assert response.json()["payments_created"] == 2
        events = await reported_events(tenant, 2)
        amounts = {e.data["reference"]: e.data["amount"]["amount"] for e in events}
        assert amounts == {"M-1": "1234.56", "M-2": "2500.00"}
        assert {e.data["paid_on"] for e in events} == {day.isoformat()}

    async def test_repeated_reference_in_file(self, client, tenant) -> None:
        content = (
            "account_key,amount,paid_on,reference\n"
            f"P-1,10.00,{TODAY},D-1\n"
            f"P-1,10.00,{TODAY},D-1\n"
            f"P-1,99.00,{TODAY},D-1\n"
            f"P-9,10.00,{TODAY},D-2\n"
        )

        response = await self.post_file(client, tenant, content)

        report = response.json()
        assert report["payments_created"] == 1
        assert report["duplicates"] == 1
        assert [(e["row"], e["column"]) for e in report["errors"]] == [
            (4, None),
            (5, None),
        ]
        assert "already reported" in report["errors"][0]["message"]
        assert "not found" in report["errors"][1]["message"]
        assert await outbox_payments(tenant) == 1

    async def test_file_across_batches(self, client, tenant) -> None:
        rows = 2 * file.BATCH_ROWS + 5
        lines = [f"P-{1 + i % 2},1.00,{TODAY},B-{i}" for i in range(rows)]
        lines[file.BATCH_ROWS + 1] = f"P-1,1.00,{TODAY},B-0"
        content = "account_key,amount,paid_on,reference\n" + "\n".join(lines) + "\n"

        response = await self.post_file(client, tenant, content)
        again = await self.post_file(client, tenant, content)

        assert response.status_code == 200, response.text
        assert response.json()["payments_created"] == rows - 1
        assert response.json()["duplicates"] == 1
        assert again.json()["duplicates"] == rows
        assert again.json()["payments_created"] == 0
        assert await outbox_payments(tenant) == rows - 1
