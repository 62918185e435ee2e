"""One key rule everywhere: keys that differ only in case or width match."""

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from ingest.app import create_app
from tests.fixtures.apps import running_app
from tests.fixtures.portfolios import account_row, xlsx_bytes
from tests.fixtures.tenants import make_tenant
from tests.integration.ingest.helpers import brief_body, upload_rows


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app()) as running:
        yield running


@pytest.fixture
async def headers(client: httpx.AsyncClient) -> dict[str, str]:
    api_key = (await make_tenant()).api_key.key
    await upload_rows(client, api_key, [account_row("MX1", balance=1000)])
    return {"X-API-Key": api_key}


async def test_other_case_updates_stored_account(client, headers):
    response = await client.post(
        "/uploads",
        headers=headers,
        files={
            "file": ("cartera.xlsx", xlsx_bytes([account_row("mx1", balance=2000)]))
        },
    )

    assert response.status_code == 201, response.text
    assert response.json()["accounts_created"] == 0
    assert response.json()["accounts_updated"] == 1
    listed = await client.get("/accounts", headers=headers, params={"q": "mx1"})
    assert [item["account_key"] for item in listed.json()["items"]] == ["MX1"]
    assert listed.json()["items"][0]["balance_overdue"] == "2000.00"


@pytest.mark.parametrize("reference", ["MX1", "mx1", "ＭＸ１", "ｍｘ1"])
async def test_lookup_by_any_spelling(client, headers, reference):
    response = await client.get(f"/accounts/{reference}", headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["account_key"] == "MX1"


async def test_payment_by_other_spelling(client, headers):
    response = await client.post(
        "/payments",
        headers=headers,
        json={
            "account_key": "ｍｘ1",
            "amount": "100.00",
            "paid_on": date.today().isoformat(),
            "reference": "K-1",
        },
    )

    assert response.status_code == 201, response.text
    assert response.json()["account_key"] == "MX1"


async def test_selection_by_other_spelling(client, headers):
    response = await client.post(
        "/campaigns", headers=headers, json=brief_body(account_keys=["mx1"])
    )

    assert response.status_code == 201, response.text
    assert response.json()["selected_accounts"] == 1


@pytest.mark.parametrize("reference", ["a%00b", "%20%20"])
async def test_bad_reference_named(client, headers, reference):
    response = await client.get(f"/accounts/{reference}", headers=headers)

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "account_ref" in response.text
