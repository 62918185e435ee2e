"""Operators' commands bypass row-level security, so each one lands in the audit log.

`campo-admin` runs as a separate process, as an operator runs it. The record
travels through ingest's outbox to reporting, where the touched tenant's
administrator reads it on `GET /audit`.
"""

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio

import ingest.app
import reporting.app
from ingest.tenants import CreatedTenant
from tests.conftest import IsolatedEnvironment
from tests.fixtures.apps import eventually, running_app
from tests.fixtures.tenants import make_tenant


@pytest_asyncio.fixture(scope="module")
async def reporting_client(
    service_env: IsolatedEnvironment,
) -> AsyncIterator[httpx.AsyncClient]:
    # Ingest's relay publishes the records that campo-admin leaves in its outbox.
    async with (
        running_app(ingest.app.create_app()),
        running_app(reporting.app.create_app()) as client,
    ):
        yield client


@pytest_asyncio.fixture(scope="module")
async def tenant(reporting_client: httpx.AsyncClient) -> CreatedTenant:
    created = await make_tenant()

    async def known() -> bool:
        response = await reporting_client.get("/audit", headers=_admin(created))
        return response.status_code == 200

    await eventually(known, message="key known to reporting")
    return created


def _admin(tenant: CreatedTenant) -> dict[str, str]:
    return {"X-API-Key": tenant.api_key.key}


def _campo_admin(*args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    printed: dict[str, Any] = json.loads(result.stdout)
    return printed


async def _entries(
    client: httpx.AsyncClient, tenant: CreatedTenant, actor: str
) -> list[dict[str, Any]]:
    async def found() -> list[dict[str, Any]] | None:
        response = await client.get(
            "/audit", headers=_admin(tenant), params={"actor": actor}
        )
        assert response.status_code == 200, response.text
        return response.json()["items"] or None

    return await eventually(found, message=f"audit entry of {actor}")


async def test_operator_command_shown_to_touched_tenant(
    reporting_client: httpx.AsyncClient, tenant: CreatedTenant
) -> None:
    operator = f"ops-{uuid.uuid4().hex[:6]}"

    created = _campo_admin(
        "--operator", operator, "api-key", "create",
        "--tenant", str(tenant.tenant_id), "--name", "audited",
    )  # fmt: skip

    entries = await _entries(reporting_client, tenant, f"operator:{operator}")
    assert [entry["resource"] for entry in entries] == ["command:api-key create"]
    assert entries[0]["service"] == "campo-admin"
    assert str(tenant.tenant_id) in entries[0]["resource_ids"]
    assert created["tenant_id"] == str(tenant.tenant_id)
