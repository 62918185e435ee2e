"""GET /accounts filters, combined with AND, and stable pagination."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ingest.app import create_app
from tests.fixtures.apps import running_app
from tests.fixtures.tenants import make_tenant
from tests.integration.ingest.test_bulk_accounts import account


@pytest.fixture(scope="module")
async def seeded() -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    headers = {"X-API-Key": (await make_tenant()).api_key.key}
    accounts = [
        account("S-1", debtor_name="Ana López", days_past_due=10, balance_overdue=500),
        account(
            "S-2",
            debtor_name="Luis Pérez",
            credit_number="CR-77",
            days_past_due=90,
            balance_overdue=20000,
            state="Jalisco",
            municipality="Zapopan",
            postal_code="45100",
            latitude=20.72,
            longitude=-103.39,
        ),
        account(
            "S-3",
            debtor_name="Ana María Ruiz",
            days_past_due=200,
            balance_overdue=3000,
            latitude=None,
            longitude=None,
            colonia=None,
            municipality=None,
            state=None,
            postal_code=None,
        ),
        account("S_4", debtor_name="Pedro 100% Gómez", days_past_due=45),
    ]
    async with running_app(create_app()) as client:
        created = await client.post(
            "/accounts/bulk", headers=headers, json={"accounts": accounts}
        )
        assert created.json()["accounts_created"] == 4, created.text
        await client.patch(
            "/accounts/S-1",
            headers=headers,
            json={"tags": ["vip"], "do_not_visit": {"reason": "dispute"}},
        )
        await client.patch("/accounts/S-2", headers=headers, json={"tags": ["nuevo"]})
        yield client, headers


async def keys(seeded: Any, **params: Any) -> list[str]:
    client, headers = seeded
    response = await client.get("/accounts", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return [item["account_key"] for item in response.json()["items"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["S-1", "S-2", "S-3", "S_4"]),
        ({"q": "ana"}, ["S-1", "S-3"]),
        ({"q": "cr-77"}, ["S-2"]),
        ({"q": "s-3"}, ["S-3"]),
        ({"q": "S_"}, ["S_4"]),
        ({"q": "100%"}, ["S_4"]),
        ({"state": "Jalisco"}, ["S-2"]),
        ({"state": ["Jalisco", "Ciudad de México"]}, ["S-1", "S-2", "S_4"]),
        ({"municipality": "Zapopan"}, ["S-2"]),
        ({"postal_code": "45100"}, ["S-2"]),
        ({"tag": ["vip", "nuevo"]}, ["S-1", "S-2"]),
        ({"min_days_past_due": 45, "max_days_past_due": 100}, ["S-2", "S_4"]),
        ({"min_balance": "1000", "max_balance": "5000"}, ["S-3"]),
        ({"location_status": "unplaced"}, ["S-3"]),
        ({"do_not_visit": "true"}, ["S-1"]),
        ({"do_not_visit": "false", "q": "ana"}, ["S-3"]),
    ],
)
async def test_search_filter(seeded, params, expected):
    assert await keys(seeded, **params) == expected


async def test_pages_follow_key_order(seeded):
    first = await keys(seeded, limit=2, offset=0)
    second = await keys(seeded, limit=2, offset=2)

    assert first + second == ["S-1", "S-2", "S-3", "S_4"]


async def test_total_counts_matches(seeded):
    client, headers = seeded

    response = await client.get(
        "/accounts", headers=headers, params={"q": "ana", "limit": 1}
    )

    assert response.json()["total"] == 2
    assert len(response.json()["items"]) == 1


async def test_inverted_range_is_422(seeded):
    client, headers = seeded

    response = await client.get(
        "/accounts",
        headers=headers,
        params={"min_days_past_due": 100, "max_days_past_due": 10},
    )

    assert response.status_code == 422
    assert "swap them" in response.json()["detail"]


async def test_unknown_location_status_is_422(seeded):
    client, headers = seeded

    response = await client.get(
        "/accounts", headers=headers, params={"location_status": "lost"}
    )

    assert response.status_code == 422
