import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ingest.app import create_app
from shared.events import topics
from tests.fixtures.apps import running_app
from tests.fixtures.events import read_events
from tests.fixtures.portfolios import account_row, xlsx_bytes
from tests.fixtures.tenants import make_tenant

QUESTIONS = {
    "type": "object",
    "properties": {"works": {"type": "boolean", "title": "¿El titular trabaja?"}},
    "required": ["works"],
}


def campaign_body(**selection: object) -> dict[str, object]:
    return {
        "name": "Cartera noviembre",
        "objective": "Confirmar domicilio y negociar el pago",
        "questions": QUESTIONS,
        "max_discount_pct": "20",
        "fee_amount": "150.00",
        "deadline": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "selection": selection,
    }


async def upload(client: httpx.AsyncClient, key: str, content: bytes) -> httpx.Response:
    return await client.post(
        "/uploads",
        headers={"X-API-Key": key},
        files={"file": ("cartera.xlsx", content)},
    )


@pytest.fixture
async def ingest_client():
    async with running_app(create_app()) as client:
        yield client


class TestUploads:
    async def test_malformed_upload_keeps_good_rows(self, ingest_client):
        tenant = await make_tenant()
        content = xlsx_bytes(
            [
                account_row("C-1"),
                account_row("C-2", balance="no sé"),
                account_row("", name="Sin llave"),
                account_row("C-3", postal_code=1000),
                account_row("C-1", name="Repetida"),
            ]
        )
        response = await upload(ingest_client, tenant.api_key.key, content)
        assert response.status_code == 201
        report = response.json()
        assert report["rows_total"] == 5
        assert report["rows_valid"] == 2
        assert report["rows_invalid"] == 3
        errors = {(e["row"], e["column"]) for e in report["errors"]}
        assert (3, "balance_overdue") in errors
        assert (4, "account_key") in errors
        assert (6, "account_key") in errors
        stored = await ingest_client.get(
            "/accounts/C-3", headers={"X-API-Key": tenant.api_key.key}
        )
        assert stored.status_code == 200
        assert stored.json()["address"]["postal_code"] == "01000"

    async def test_reupload_updates_instead_of_duplicating(self, ingest_client):
        tenant = await make_tenant()
        key = tenant.api_key.key
        await upload(ingest_client, key, xlsx_bytes([account_row("U-1", balance=100)]))
        second = await upload(
            ingest_client, key, xlsx_bytes([account_row("U-1", balance=250)])
        )
        assert second.json()["accounts_updated"] == 1
        assert second.json()["accounts_created"] == 0
        page = (await ingest_client.get("/accounts", headers={"X-API-Key": key})).json()
        assert page["total"] == 1
        assert page["items"][0]["balance_overdue"] == "250.00"

    async def test_idempotency_key_replays_first_upload(self, ingest_client):
        tenant = await make_tenant()
        headers = {"X-API-Key": tenant.api_key.key, "Idempotency-Key": "file-1"}
        content = xlsx_bytes([account_row("K-1"), account_row("K-2")])
        files = {"file": ("cartera.xlsx", content)}
        first = await ingest_client.post("/uploads", headers=headers, files=files)
        second = await ingest_client.post("/uploads", headers=headers, files=files)
        assert first.status_code == second.status_code == 201
        assert first.json()["upload_id"] == second.json()["upload_id"]
        assert second.json()["accounts_created"] == 2
        other = xlsx_bytes([account_row("K-3")])
        reused = await ingest_client.post(
            "/uploads", headers=headers, files={"file": ("cartera.xlsx", other)}
        )
        assert reused.status_code == 422
        assert reused.json()["type"].endswith("idempotency-key-reused")
        assert "file-1" in reused.json()["detail"]

    async def test_unreadable_file_is_a_problem(self, ingest_client):
        tenant = await make_tenant()
        response = await upload(ingest_client, tenant.api_key.key, b"\x00\x01garbage")
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert "cartera.xlsx" in response.json()["detail"]

    async def test_upload_needs_api_key(self, ingest_client):
        response = await upload(ingest_client, "ck_wrong_key", xlsx_bytes([]))
        assert response.status_code == 401
        assert response.json()["status"] == 401

    async def test_other_tenant_upload_is_not_found(self, ingest_client):
        owner, other = await make_tenant(), await make_tenant()
        created = await upload(
            ingest_client, owner.api_key.key, xlsx_bytes([account_row("X-1")])
        )
        response = await ingest_client.get(
            f"/uploads/{created.json()['upload_id']}",
            headers={"X-API-Key": other.api_key.key},
        )
        assert response.status_code == 404


class TestCampaigns:
    async def test_launch_publishes_one_request_per_located_account(
        self, ingest_client
    ):
        tenant = await make_tenant()
        key = {"X-API-Key": tenant.api_key.key}
        rows = [account_row(f"L-{i}", lat=19.40 + i / 100) for i in range(3)]
        rows.append(
            account_row(
                "L-nowhere",
                lat=None,
                lon=None,
                colonia="Colonia Inexistente",
                municipality="Municipio Inexistente",
            )
        )
        await upload(ingest_client, tenant.api_key.key, xlsx_bytes(rows))
        created = await ingest_client.post(
            "/campaigns",
            headers=key,
            json=campaign_body(account_keys=["L-0", "L-1", "L-2", "L-nowhere"]),
        )
        assert created.status_code == 201, created.text
        campaign_id = created.json()["campaign_id"]
        launched = await ingest_client.post(
            f"/campaigns/{campaign_id}/launch", headers=key
        )
        assert launched.status_code == 200
        assert launched.json()["visit_count"] == 3
        assert launched.json()["excluded"][0]["account_key"] == "L-nowhere"
        again = await ingest_client.post(
            f"/campaigns/{campaign_id}/launch", headers=key
        )
        assert again.status_code == 409
        assert again.json()["current_state"] == "launched"
        mine = await read_events(
            topics.VISIT_REQUESTS,
            count=3,
            where=lambda e: e.data["campaign_id"] == campaign_id,
        )
        assert len(mine) == 3
        assert len({e.data["visit_id"] for e in mine}) == 3
        assert all(e.tenant_id == tenant.tenant_id for e in mine)
        assert mine[0].data["brief"]["questions"] == QUESTIONS

    async def test_unknown_account_keys_rejected(self, ingest_client):
        tenant = await make_tenant()
        response = await ingest_client.post(
            "/campaigns",
            headers={"X-API-Key": tenant.api_key.key},
            json=campaign_body(account_keys=["nope-1"]),
        )
        assert response.status_code == 422
        assert response.json()["unknown_account_keys"] == ["nope-1"]
        assert response.json()["detail"].startswith(
            "1 account key is not in the portfolio: nope-1;"
        )

    async def test_unknown_account_ids_named_as_ids(self, ingest_client):
        tenant = await make_tenant()
        missing = [str(uuid.uuid4()), str(uuid.uuid4())]
        body = campaign_body(account_keys=["x"])
        body["selection"] = {"account_ids": missing}

        response = await ingest_client.post(
            "/campaigns", headers={"X-API-Key": tenant.api_key.key}, json=body
        )

        assert response.status_code == 422
        assert sorted(response.json()["unknown_account_ids"]) == sorted(missing)
        assert response.json()["detail"].startswith("2 account ids are not in")

    async def test_idempotency_key_replays_first_campaign(self, ingest_client):
        tenant = await make_tenant()
        headers = {"X-API-Key": tenant.api_key.key, "Idempotency-Key": "camp-1"}
        await upload(
            ingest_client, tenant.api_key.key, xlsx_bytes([account_row("I-1")])
        )
        body = campaign_body(all_accounts=True)
        first = await ingest_client.post("/campaigns", headers=headers, json=body)
        second = await ingest_client.post("/campaigns", headers=headers, json=body)
        assert first.status_code == second.status_code == 201
        assert first.json()["campaign_id"] == second.json()["campaign_id"]
        listed = await ingest_client.get("/campaigns", headers=headers)
        assert len(listed.json()) == 1

    async def test_questions_without_titles_rejected(self, ingest_client):
        tenant = await make_tenant()
        body = campaign_body(all_accounts=True)
        body["questions"] = {"type": "object", "properties": {"x": {"type": "string"}}}
        response = await ingest_client.post(
            "/campaigns", headers={"X-API-Key": tenant.api_key.key}, json=body
        )
        assert response.status_code == 422
        assert "title" in response.json()["detail"]


class TestHostileCampaigns:
    @pytest.mark.parametrize(
        ("questions", "expected"),
        [
            (
                {
                    "type": "object",
                    "properties": {
                        "x": {"$ref": "http://127.0.0.1:9/s.json", "title": "X"}
                    },
                },
                "external reference",
            ),
            (
                {
                    "type": "object",
                    "properties": {
                        "x": {"type": "string", "pattern": "^(a+)+$", "title": "X"}
                    },
                },
                "'pattern'",
            ),
            ({"type": "object", "properties": {"a": True}}, "must be objects"),
            (
                {
                    "type": "object",
                    "properties": {"a": {"type": "string", "title": "A"}},
                    "x-order": "a",
                },
                "x-order",
            ),
        ],
    )
    async def test_unsafe_questions_rejected(self, ingest_client, questions, expected):
        tenant = await make_tenant()
        body = campaign_body(all_accounts=True)
        body["questions"] = questions
        response = await ingest_client.post(
            "/campaigns", headers={"X-API-Key": tenant.api_key.key}, json=body
        )
        assert response.status_code == 422
        assert expected in response.json()["detail"]

    async def test_nul_in_name_is_422_not_500(self, ingest_client):
        tenant = await make_tenant()
        key = tenant.api_key.key
        await upload(ingest_client, key, xlsx_bytes([account_row("N-1")]))
        body = campaign_body(all_accounts=True)
        body["name"] = "Campaña\x00"
        response = await ingest_client.post(
            "/campaigns", headers={"X-API-Key": key}, json=body
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"

    async def test_huge_offset_is_422(self, ingest_client):
        tenant = await make_tenant()
        response = await ingest_client.get(
            "/accounts",
            headers={"X-API-Key": tenant.api_key.key},
            params={"offset": 2**63},
        )
        assert response.status_code == 422

    async def test_nul_in_account_key_path_is_not_500(self, ingest_client):
        tenant = await make_tenant()
        response = await ingest_client.get(
            "/accounts/%00", headers={"X-API-Key": tenant.api_key.key}
        )
        assert response.status_code in (404, 422)

    async def test_concurrent_uploads_of_same_keys_all_succeed(self, ingest_client):
        tenant = await make_tenant()
        rows = [account_row(f"D-{i}") for i in range(200)]
        forward, backward = xlsx_bytes(rows), xlsx_bytes(list(reversed(rows)))
        responses = await asyncio.gather(
            *(
                upload(ingest_client, tenant.api_key.key, content)
                for content in (forward, backward, forward, backward)
            )
        )
        assert [r.status_code for r in responses] == [201] * 4
