"""Reads of debtors' data reach reporting's audit log, queryable by the admin."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio

import ingest.app
import reporting.app
import visits.app
from ingest.tenants import CreatedTenant
from tests.conftest import IsolatedEnvironment
from tests.fixtures.apps import eventually, running_app
from tests.fixtures.photos import make_image
from tests.fixtures.portfolios import account_row, xlsx_bytes
from tests.fixtures.tenants import make_tenant
from tests.integration.visits.helpers import assigned_visit, check_in_body, result_body
from visits.photo_store import STORE_KEY, LocalPhotoStore

PASSWORD = "caballo correcto batería"


@pytest_asyncio.fixture(scope="module")
async def clients(
    service_env: IsolatedEnvironment,
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with (
        running_app(ingest.app.create_app()) as ingest_client,
        running_app(visits.app.create_app()) as visits_client,
        running_app(reporting.app.create_app()) as reporting_client,
    ):
        yield {
            "ingest": ingest_client,
            "visits": visits_client,
            "reporting": reporting_client,
        }


@pytest_asyncio.fixture(scope="module")
async def tenant(clients: dict[str, httpx.AsyncClient]) -> CreatedTenant:
    created = await make_tenant()
    for service, path in (("visits", "/visits"), ("reporting", "/audit")):

        async def known(service: str = service, path: str = path) -> bool:
            response = await clients[service].get(
                path, headers={"X-API-Key": created.api_key.key}
            )
            return response.status_code == 200

        await eventually(known, message=f"key known to {service}")
    return created


def admin(tenant: CreatedTenant) -> dict[str, str]:
    return {"X-API-Key": tenant.api_key.key}


async def entries_for(
    clients: dict[str, httpx.AsyncClient], tenant: CreatedTenant, **params: Any
) -> list[dict[str, Any]]:
    """Wait until the audit log holds an entry matching `params`, and return them."""

    async def found() -> list[dict[str, Any]] | None:
        response = await clients["reporting"].get(
            "/audit", headers=admin(tenant), params=params
        )
        assert response.status_code == 200, response.text
        return response.json()["items"] or None

    return await eventually(found, message=f"audit entry for {params}")


async def test_director_read_of_account_logged(clients, tenant) -> None:
    key = f"AU-{uuid.uuid4().hex[:8]}"
    upload = await clients["ingest"].post(
        "/uploads",
        headers=admin(tenant),
        files={"file": ("cartera.xlsx", xlsx_bytes([account_row(key)]))},
    )
    assert upload.status_code == 201, upload.text
    email = f"dir-{uuid.uuid4().hex[:8]}@financiera.mx"
    await clients["ingest"].post(
        "/users",
        headers=admin(tenant),
        json={"email": email, "name": "Dir", "role": "director", "password": PASSWORD},
    )
    login = await clients["ingest"].post(
        "/auth/login", json={"email": email, "password": PASSWORD}
    )
    token = login.json()["access_token"]

    account = await clients["ingest"].get(
        f"/accounts/{key}", headers={"Authorization": f"Bearer {token}"}
    )
    account_id = account.json()["account_id"]
    [entry] = await entries_for(clients, tenant, resource_id=account_id)

    assert entry["actor"] == f"user:{login.json()['user_id']}"
    assert entry["resource"] == "account"
    assert entry["service"] == "ingest"
    assert entry["resource_ids"] == [account_id]


async def settled_count(
    clients: dict[str, httpx.AsyncClient], tenant: CreatedTenant, visit_id: str
) -> int:
    """Count a visit's entries once every earlier read has reached reporting.

    Audit records of one tenant share a partition, so once a fresh read of a
    sentinel visit is logged, every read before it is logged too.
    """
    sentinel = await assigned_visit(clients["visits"], tenant.tenant_id)
    await entries_for(clients, tenant, resource_id=str(sentinel.request.visit_id))
    response = await clients["reporting"].get(
        "/audit", headers=admin(tenant), params={"resource_id": visit_id}
    )
    return len(response.json()["items"])


async def test_agent_brief_read_logged_closed_not(clients, tenant) -> None:
    visit = await assigned_visit(clients["visits"], tenant.tenant_id)
    visit_id = str(visit.request.visit_id)

    shown = await clients["visits"].get(visit.path, headers=visit.headers)
    entries = await entries_for(clients, tenant, resource_id=visit_id)
    checked_in = await clients["visits"].post(
        f"{visit.path}/check-in", json=check_in_body(), headers=visit.headers
    )
    filed = await clients["visits"].post(
        f"{visit.path}/result", json=result_body(), headers=visit.headers
    )
    before_close = await settled_count(clients, tenant, visit_id)
    closed = [
        await clients["visits"].get(visit.path, headers=visit.headers) for _ in range(3)
    ]
    after_close = await settled_count(clients, tenant, visit_id)

    assert shown.status_code == 200
    assert checked_in.status_code == 201
    assert filed.status_code == 201
    assert all(response.json()["debtor_data_withheld"] for response in closed)
    assert {entry["actor"] for entry in entries} == {f"agent:{visit.agent_id}"}
    assert before_close >= 1
    assert after_close == before_close


async def test_audit_needs_audit_scope(clients, tenant) -> None:
    created = await clients["ingest"].post(
        "/api-keys", headers=admin(tenant), json={"scopes": ["results:read"]}
    )
    key = created.json()["key"]

    async def known() -> httpx.Response | None:
        response = await clients["reporting"].get("/audit", headers={"X-API-Key": key})
        return response if response.status_code != 401 else None

    response = await eventually(known, message="new key known to reporting")

    assert response.status_code == 403
    assert response.json()["missing_scopes"] == ["audit:read"]


async def test_other_tenant_sees_no_entries(clients, tenant) -> None:
    other = await make_tenant()

    async def known() -> httpx.Response | None:
        response = await clients["reporting"].get(
            "/audit", headers={"X-API-Key": other.api_key.key}
        )
        return response if response.status_code == 200 else None

    response = await eventually(known, message="other tenant's key known")

    assert response.json()["items"] == []


async def test_inverted_period_rejected(clients, tenant) -> None:
    response = await clients["reporting"].get(
        "/audit",
        headers=admin(tenant),
        params={"since": "2026-12-05T10:00:00Z", "before": "2026-12-01T10:00:00Z"},
    )

    assert response.status_code == 422
    assert "2026-12-05T10:00:00+00:00" in response.json()["detail"]


async def test_long_account_page_logged_whole(clients, tenant) -> None:
    prefix = f"LP-{uuid.uuid4().hex[:6]}"
    rows = [account_row(f"{prefix}-{number:04d}") for number in range(620)]
    upload = await clients["ingest"].post(
        "/uploads",
        headers=admin(tenant),
        files={"file": ("cartera.xlsx", xlsx_bytes(rows))},
    )
    assert upload.status_code == 201, upload.text

    page = await clients["ingest"].get(
        "/accounts", headers=admin(tenant), params={"limit": 1000}
    )
    listed_ids = [item["account_id"] for item in page.json()["items"]]
    last_entries = await entries_for(clients, tenant, resource_id=listed_ids[-1])

    assert len(listed_ids) > 500
    assert last_entries[0]["resource"] == "account"


async def test_upload_errors_read_logged(clients, tenant) -> None:
    key = f"UE-{uuid.uuid4().hex[:8]}"
    upload = await clients["ingest"].post(
        "/uploads",
        headers=admin(tenant),
        files={"file": ("cartera.xlsx", xlsx_bytes([account_row(key, balance="x")]))},
    )
    upload_id = upload.json()["upload_id"]
    reader = await clients["ingest"].post(
        "/api-keys", headers=admin(tenant), json={"scopes": ["accounts:read"]}
    )
    reader_headers = {"X-API-Key": reader.json()["key"]}
    actor = f"key:{reader.json()['key_id']}"

    errors = await clients["ingest"].get(
        f"/uploads/{upload_id}/errors", headers=reader_headers
    )
    detail = await clients["ingest"].get(
        f"/uploads/{upload_id}", headers=reader_headers
    )

    async def both_logged() -> list[dict[str, Any]] | None:
        entries = await entries_for(clients, tenant, resource_id=upload_id, actor=actor)
        return entries if len(entries) == 2 else None

    entries = await eventually(both_logged, message="both reads of the errors")

    assert errors.json()["items"], errors.text
    assert detail.json()["errors"], detail.text
    assert {entry["resource"] for entry in entries} == {"upload_report"}


async def test_photo_download_logged(clients, tenant, tmp_path) -> None:
    runtime = clients["visits"]._transport.app.state.runtime  # type: ignore[attr-defined]
    runtime.state[STORE_KEY] = LocalPhotoStore(tmp_path)
    visit = await assigned_visit(clients["visits"], tenant.tenant_id)
    visit_id = str(visit.request.visit_id)
    await clients["visits"].post(
        f"{visit.path}/check-in", json=check_in_body(), headers=visit.headers
    )
    uploaded = await clients["visits"].post(
        f"{visit.path}/photos",
        content=make_image(),
        headers={**visit.headers, "Content-Type": "image/jpeg"},
    )
    photo_id = uploaded.json()["photo_id"]

    photo = await clients["visits"].get(
        f"/visits/{visit_id}/photos/{photo_id}", headers=admin(tenant)
    )
    [entry] = await entries_for(
        clients, tenant, resource="visit_photo", resource_id=photo_id
    )

    assert photo.status_code == 200
    assert entry["visit_id"] == visit_id
    assert entry["actor"] == f"key:{tenant.api_key.key_id}"
