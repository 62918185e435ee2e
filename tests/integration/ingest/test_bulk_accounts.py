"""The integrators' JSON bulk endpoint: same rules and store path as a file."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ingest.app import create_app
from tests.fixtures.apps import running_app
from tests.fixtures.tenants import make_tenant


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app()) as running:
        yield running


@pytest.fixture
async def headers() -> dict[str, str]:
    return {"X-API-Key": (await make_tenant()).api_key.key}


def account(key: str, **fields: Any) -> dict[str, Any]:
    return {
        "account_key": key,
        "debtor_name": "María Guadalupe Hernández",
        "balance_overdue": 12500.5,
        "days_past_due": 45,
        "street": "Av. Insurgentes Sur",
        "colonia": "Del Valle",
        "postal_code": "6600",
        "municipality": "Benito Juárez",
        "state": "Ciudad de México",
        "phone": "55 1234 5678",
        "latitude": 19.4326,
        "longitude": -99.1332,
        **fields,
    }


class TestBulkAccounts:
    async def test_good_and_bad_items(self, client, headers):
        body = {
            "accounts": [
                account("JS-1", extra={"segmento": "A"}),
                account("JS-2", balance_overdue="no sé"),
                account("JS-3", phone="123"),
                account("", debtor_name="Sin llave"),
                account("JS-1"),
            ]
        }

        response = await client.post("/accounts/bulk", headers=headers, json=body)

        assert response.status_code == 201, response.text
        result = response.json()
        assert result["status"] == "completed"
        assert result["accounts_received"] == 5
        assert result["accounts_created"] == 2
        errors = {(e["index"], e["field"], e["severity"]) for e in result["errors"]}
        assert (1, "balance_overdue", "error") in errors
        assert (2, "phone", "warning") in errors
        assert (3, "account_key", "error") in errors
        assert (4, "account_key", "error") in errors
        bad_balance = next(e for e in result["errors"] if e["index"] == 1)
        assert bad_balance["value"] == "no sé"
        stored = await client.get("/accounts/JS-1", headers=headers)
        assert stored.json()["address"]["postal_code"] == "06600"
        assert stored.json()["extra"] == {"segmento": "A"}
        assert (await client.get("/accounts/JS-2", headers=headers)).status_code == 404

    async def test_reject_all_stores_nothing(self, client, headers):
        body = {
            "accounts": [account("RA-1"), account("RA-2", days_past_due="muchos")],
            "on_error": "reject_all",
        }

        response = await client.post("/accounts/bulk", headers=headers, json=body)

        assert response.json()["status"] == "rejected"
        assert response.json()["accounts_created"] == 0
        assert (await client.get("/accounts/RA-1", headers=headers)).status_code == 404

    async def test_limit_exceeded_names_limit(self, client, headers):
        body = {"accounts": [{"account_key": f"M-{i}"} for i in range(10_001)]}

        response = await client.post("/accounts/bulk", headers=headers, json=body)

        assert response.status_code == 413
        assert "10001" in response.json()["detail"]
        assert "10000" in response.json()["detail"]
        listed = await client.get("/uploads", headers=headers)
        assert listed.json()["items"] == []

    async def test_body_over_one_mib_accepted(self, client, headers):
        note = "Casa azul con portón negro, " * 17
        body = {
            "accounts": [
                account(f"L-{i}", address_references=note) for i in range(2_000)
            ]
        }
        assert len(json.dumps(body)) > 1024 * 1024

        response = await client.post("/accounts/bulk", headers=headers, json=body)

        assert response.status_code == 201, response.text
        assert response.json()["accounts_created"] == 2_000

    async def test_unknown_field_is_422(self, client, headers):
        body = {"accounts": [account("U-1", saldo=10)]}

        response = await client.post("/accounts/bulk", headers=headers, json=body)

        assert response.status_code == 422

    async def test_update_counts_on_second_call(self, client, headers):
        first = await client.post(
            "/accounts/bulk", headers=headers, json={"accounts": [account("UP-1")]}
        )
        second = await client.post(
            "/accounts/bulk",
            headers=headers,
            json={"accounts": [account("UP-1", balance_overdue="900.00")]},
        )

        assert first.json()["accounts_created"] == 1
        assert second.json()["accounts_updated"] == 1
        stored = await client.get("/accounts/UP-1", headers=headers)
        assert stored.json()["balance_overdue"] in ("900.00", "900")

    async def test_too_many_extra_names_is_422(self, client, headers):
        accounts = [account(f"X-{i}", extra={f"campo_{i}": "v"}) for i in range(201)]

        response = await client.post(
            "/accounts/bulk", headers=headers, json={"accounts": accounts}
        )

        assert response.status_code == 422
        assert "201" in response.json()["detail"]
        assert "200" in response.json()["detail"]

    async def test_long_text_is_item_error(self, client, headers):
        body = {"accounts": [account("LT-1", debtor_name="x" * 20_000)]}

        response = await client.post("/accounts/bulk", headers=headers, json=body)

        assert response.status_code == 201
        errors = response.json()["errors"]
        assert [(e["index"], e["field"]) for e in errors] == [(0, "debtor_name")]
        assert len(errors[0]["value"]) <= 200


async def test_report_names_item_index(client, headers):
    body = {"accounts": [account("JR-1"), account("JR-2", balance_overdue="no sé")]}
    result = (await client.post("/accounts/bulk", headers=headers, json=body)).json()

    response = await client.get(
        f"/uploads/{result['upload_id']}/report.csv", headers=headers
    )

    assert response.status_code == 200
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Item index,")
    assert lines[1].startswith("1,JR-2,")


async def test_empty_list_rejected(client, headers):
    response = await client.post(
        "/accounts/bulk", headers=headers, json={"accounts": []}
    )

    assert response.status_code == 422
    assert "accounts" in response.text


class TestFieldsLeftOut:
    async def test_absent_field_keeps_the_stored_value(self, client, headers):
        first = await client.post(
            "/accounts/bulk", headers=headers, json={"accounts": [account("KP-1")]}
        )
        renamed = {"account_key": "KP-1", "debtor_name": "Pedro Sánchez Díaz"}
        second = await client.post(
            "/accounts/bulk", headers=headers, json={"accounts": [renamed]}
        )
        stored = (await client.get("/accounts/KP-1", headers=headers)).json()

        assert first.status_code == second.status_code == 201, second.text
        assert stored["debtor_name"] == "Pedro Sánchez Díaz"
        assert stored["phone"] is not None
        assert stored["address"]["street"] == "Av. Insurgentes Sur"
        assert stored["balance_overdue"] == "12500.50"
        assert stored["location_status"] == "placed"

    async def test_null_clears_the_stored_value(self, client, headers):
        await client.post(
            "/accounts/bulk", headers=headers, json={"accounts": [account("KP-2")]}
        )
        cleared = {"account_key": "KP-2", "debtor_name": "Ana", "phone": None}
        response = await client.post(
            "/accounts/bulk", headers=headers, json={"accounts": [cleared]}
        )
        stored = (await client.get("/accounts/KP-2", headers=headers)).json()

        assert response.status_code == 201, response.text
        assert stored["phone"] is None
        assert stored["address"]["street"] == "Av. Insurgentes Sur"
