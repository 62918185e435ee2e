"""Each flag and the recall keep their own note."""

import httpx
import pytest

from ingest.app import create_app
from ingest.tenants import CreatedTenant
from tests.fixtures.apps import running_app
from tests.fixtures.portfolios import account_row
from tests.fixtures.tenants import make_tenant
from tests.integration.ingest.helpers import upload_rows


@pytest.fixture(scope="module")
async def client():
    async with running_app(create_app()) as client:
        yield client


@pytest.fixture
async def tenant(client: httpx.AsyncClient) -> CreatedTenant:
    tenant = await make_tenant()
    await upload_rows(client, tenant.api_key.key, [account_row("N-1")])
    return tenant


async def test_notes_kept_apart(client, tenant) -> None:
    headers = {"X-API-Key": tenant.api_key.key}

    await client.patch(
        "/accounts/N-1",
        headers=headers,
        json={"do_not_visit": {"reason": "dispute", "note": "Reclamo en CONDUSEF"}},
    )
    await client.patch(
        "/accounts/N-1",
        headers=headers,
        json={"do_not_contact": {"reason": "lawyer", "note": "Despacho Ruiz"}},
    )
    recalled = await client.post(
        "/accounts/N-1/recall", headers=headers, json={"note": "Devuelta al banco"}
    )

    assert recalled.status_code == 200, recalled.text
    account = recalled.json()
    assert account["do_not_visit_note"] == "Reclamo en CONDUSEF"
    assert account["do_not_contact_note"] == "Despacho Ruiz"
    assert account["recall_note"] == "Devuelta al banco"


async def test_clearing_flag_clears_its_note(client, tenant) -> None:
    headers = {"X-API-Key": tenant.api_key.key}
    await client.patch(
        "/accounts/N-1",
        headers=headers,
        json={
            "do_not_visit": {"reason": "dispute", "note": "Reclamo"},
            "do_not_contact": {"reason": "lawyer", "note": "Despacho"},
        },
    )

    cleared = await client.patch(
        "/accounts/N-1", headers=headers, json={"do_not_visit": None}
    )

    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["do_not_visit_reason"] is None
    assert cleared.json()["do_not_visit_note"] is None
    assert cleared.json()["do_not_contact_note"] == "Despacho"
