"""Tenant B tries tenant A's ids on every tenant operation of the four services.

The operations come from the OpenAPI documents, so a new endpoint joins the
suite by itself. Each attempt must answer 404 with none of A's data, and
leave a `request.not_found` log line naming B's caller. The list operations
called with B's key must not show A's ids either.
"""

import logging
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from ingest.tenants import CreatedTenant
from tests.conftest import IsolatedEnvironment
from tests.fixtures.apps import running_app
from tests.fixtures.photos import make_image
from tests.fixtures.portfolios import account_row, xlsx_bytes
from tests.fixtures.tenants import make_tenant
from tests.integration.ingest.helpers import brief_body
from tests.integration.shared.test_permissions import (
    OPERATIONS,
    Operation,
    _apps,
    _known_everywhere,
)
from tests.integration.visits.helpers import assigned_visit, check_in_body

PATH_PARAMETER = re.compile(r"\{([^}]+)\}")
DEBTOR_NAME = "Rigoberta Quintanilla Sotelo"
# A valid body for each operation that needs one, so that the answer is about
# the id and never about a missing body.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch", "/accounts/{account_ref}"): {"tags": ["revisar"]},
    ("patch", "/users/{user_id}"): {"disabled": True},
    ("post", "/visits/{visit_id}/reject"): {"reason": "No hay evidencia"},
    ("post", "/visits/{visit_id}/appeal/resolve"): {"outcome": "upheld"},
    ("patch", "/webhooks/{subscription_id}"): {"enabled": False},
    ("post", "/webhooks/{subscription_id}/replay"): {
        "since": (datetime.now(UTC) - timedelta(days=1)).isoformat()
    },
}

# Query parameters an operation requires, for the same reason.
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("get", "/agents/{agent_id}/earnings"): {"from": "2026-01-01", "to": "2026-12-31"},
}


def _with_ids(op: Operation) -> bool:
    return bool(PATH_PARAMETER.search(op.path))


def _required_body(op: Operation) -> bool:
    document = _apps()[op.service].openapi()  # type: ignore[attr-defined]
    body = document["paths"][op.path][op.method].get("requestBody")
    return bool(body and body.get("required"))


BY_ID = [op for op in OPERATIONS if _with_ids(op)]
LISTS = [op for op in OPERATIONS if not _with_ids(op) and op.method == "get"]


def test_every_body_operation_has_a_body() -> None:
    missing = [
        str(op)
        for op in BY_ID
        if _required_body(op) and (op.method, op.path) not in BODIES
    ]

    assert missing == []


@dataclass(frozen=True)
class TenantA:
    tenant: CreatedTenant
    ids: dict[str, str]

    def secrets(self) -> list[str]:
        """Return values that must never reach tenant B."""
        return [DEBTOR_NAME, *self.ids.values()]


@pytest_asyncio.fixture(scope="module")
async def clients(
    service_env: IsolatedEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    extra = {
        "REPORTING_WEBHOOK_ALLOW_LOOPBACK": "true",
        "VISITS_PHOTO_DIR": str(tmp_path_factory.mktemp("photos")),
    }
    saved = {name: os.environ.get(name) for name in extra}
    os.environ.update(extra)
    apps = _apps()
    try:
        async with (
            running_app(apps["ingest"]) as ingest_client,  # type: ignore[arg-type]
            running_app(apps["matching"]) as matching_client,  # type: ignore[arg-type]
            running_app(apps["visits"]) as visits_client,  # type: ignore[arg-type]
            running_app(apps["reporting"]) as reporting_client,  # type: ignore[arg-type]
        ):
            yield {
                "ingest": ingest_client,
                "matching": matching_client,
                "visits": visits_client,
                "reporting": reporting_client,
            }
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def _tenant_a(clients: dict[str, httpx.AsyncClient]) -> TenantA:
    """Give tenant A one of each resource an id in a path can name."""
    tenant = await make_tenant()
    headers = {"X-API-Key": tenant.api_key.key}
    await _known_everywhere(clients, tenant.api_key.key)
    ingest_client = clients["ingest"]
    account_key = f"A-{uuid.uuid4().hex[:8]}"
    upload = await ingest_client.post(
        "/uploads",
        headers=headers,
        files={
            "file": (
                "cartera.xlsx",
                xlsx_bytes([account_row(account_key, name=DEBTOR_NAME)]),
            )
        },
    )
    assert upload.status_code == 201, upload.text
    campaign = await ingest_client.post(
        "/campaigns", headers=headers, json=brief_body()
    )
    assert campaign.status_code == 201, campaign.text
    user = await ingest_client.post(
        "/users",
        headers=headers,
        json={
            "email": f"a-{uuid.uuid4().hex[:8]}@financiera.mx",
            "name": "Directora A",
            "role": "director",
            "password": "caballo correcto batería",
        },
    )
    assert user.status_code == 201, user.text
    hook = await clients["reporting"].post(
        "/webhooks",
        headers=headers,
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["visit.completed"]},
    )
    assert hook.status_code == 201, hook.text
    visit = await assigned_visit(clients["visits"], tenant.tenant_id)
    checked_in = await clients["visits"].post(
        f"{visit.path}/check-in", json=check_in_body(), headers=visit.headers
    )
    assert checked_in.status_code == 201, checked_in.text
    photo = await clients["visits"].post(
        f"{visit.path}/photos",
        content=make_image(),
        headers={**visit.headers, "Content-Type": "image/jpeg"},
    )
    assert photo.status_code == 201, photo.text
    return TenantA(
        tenant=tenant,
        ids={
            "upload_id": upload.json()["upload_id"],
            "account_ref": account_key,
            "campaign_id": campaign.json()["campaign_id"],
            "user_id": user.json()["user_id"],
            "key_id": str(tenant.api_key.key_id),
            "subscription_id": hook.json()["subscription_id"],
            "visit_id": str(visit.request.visit_id),
            "photo_id": photo.json()["photo_id"],
            "agent_id": str(visit.agent_id),
            # NOTE: no event reached the subscription yet, so this message id is
            # made up. Its path still carries tenant A's subscription id.
            "msg_id": f"msg_{uuid.uuid4().hex}",
        },
    )


@pytest_asyncio.fixture(scope="module")
async def tenants(
    clients: dict[str, httpx.AsyncClient],
) -> tuple[TenantA, CreatedTenant]:
    tenant_a = await _tenant_a(clients)
    tenant_b = await make_tenant()
    await _known_everywhere(clients, tenant_b.api_key.key)
    return tenant_a, tenant_b


def _path_with(op: Operation, ids: dict[str, str]) -> str:
    return PATH_PARAMETER.sub(lambda match: ids[match.group(1)], op.path)


@pytest.mark.parametrize("op", [op for op in BY_ID if not op.streams], ids=str)
async def test_other_tenants_id_not_found(
    clients: dict[str, httpx.AsyncClient],
    tenants: tuple[TenantA, CreatedTenant],
    op: Operation,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenant_a, tenant_b = tenants
    path = _path_with(op, tenant_a.ids)

    with caplog.at_level(logging.INFO):
        response = await clients[op.service].request(
            op.method,
            path,
            headers={"X-API-Key": tenant_b.api_key.key},
            json=BODIES.get((op.method, op.path)),
            params=QUERIES.get((op.method, op.path)),
        )
    # The services log through the standard library with structlog's event
    # dict as the message.
    logs = [r.msg for r in caplog.records if isinstance(r.msg, dict)]

    assert response.status_code == 404, response.text
    body = response.json()
    shown = {
        key: value for key, value in body.items() if key not in ("instance", "detail")
    }
    # The ids B sent may come back in the problem; any other of A's may not.
    sent = set(PATH_PARAMETER.findall(op.path))
    hidden = [DEBTOR_NAME, *(v for k, v in tenant_a.ids.items() if k not in sent)]
    assert not any(secret in str(shown) for secret in hidden)
    assert DEBTOR_NAME not in response.text
    logged = [line for line in logs if line.get("event") == "request.not_found"]
    assert [line["caller"] for line in logged] == [f"key:{tenant_b.api_key.key_id}"]
    assert logged[0]["tenant_id"] == str(tenant_b.tenant_id)


@pytest.mark.parametrize("op", [op for op in BY_ID if op.streams], ids=str)
async def test_other_tenants_stream_not_found(
    clients: dict[str, httpx.AsyncClient],
    tenants: tuple[TenantA, CreatedTenant],
    op: Operation,
) -> None:
    tenant_a, tenant_b = tenants

    response = await clients[op.service].get(
        _path_with(op, tenant_a.ids), headers={"X-API-Key": tenant_b.api_key.key}
    )

    assert response.status_code == 404
    assert DEBTOR_NAME not in response.text


@pytest.mark.parametrize("op", [op for op in LISTS if not op.streams], ids=str)
async def test_lists_show_nothing_of_other_tenant(
    clients: dict[str, httpx.AsyncClient],
    tenants: tuple[TenantA, CreatedTenant],
    op: Operation,
) -> None:
    tenant_a, tenant_b = tenants

    response = await clients[op.service].get(
        op.path, headers={"X-API-Key": tenant_b.api_key.key}
    )

    assert response.status_code == 200, response.text
    leaked = [secret for secret in tenant_a.secrets() if secret in response.text]
    assert leaked == []


async def test_owner_sees_own_resources(
    clients: dict[str, httpx.AsyncClient],
    tenants: tuple[TenantA, CreatedTenant],
) -> None:
    tenant_a, _ = tenants
    headers = {"X-API-Key": tenant_a.tenant.api_key.key}

    account = await clients["ingest"].get(
        f"/accounts/{tenant_a.ids['account_ref']}", headers=headers
    )
    visit = await clients["visits"].get(
        f"/visits/{tenant_a.ids['visit_id']}", headers=headers
    )
    photo = await clients["visits"].get(
        f"/visits/{tenant_a.ids['visit_id']}/photos/{tenant_a.ids['photo_id']}",
        headers=headers,
    )
    hook = await clients["reporting"].get(
        f"/webhooks/{tenant_a.ids['subscription_id']}", headers=headers
    )

    assert account.status_code == 200
    assert DEBTOR_NAME in account.text
    assert visit.status_code == 200
    assert photo.status_code == 200
    assert hook.status_code == 200


def test_suite_covers_every_id_kind() -> None:
    kinds = {name for op in BY_ID for name in PATH_PARAMETER.findall(op.path)}

    assert kinds == {
        "upload_id",
        "account_ref",
        "campaign_id",
        "user_id",
        "key_id",
        "subscription_id",
        "visit_id",
        "photo_id",
        "msg_id",
        "agent_id",
    }
