"""A CSV row with fewer cells than its header keeps the values it lacks."""

import httpx
import pytest

from ingest.app import create_app
from tests.fixtures.apps import running_app
from tests.fixtures.tenants import make_tenant

HEADER = (
    "Cuenta,Nombre,Saldo,Teléfono,Calle,Colonia,Alcaldía / Municipio,Estado,"
    "Latitud,Longitud"
)
FULL_ROW = (
    "RG1,Ana Ruiz,100,5512345678,Reforma 1,Centro,Cuauhtémoc,CDMX,19.4326,-99.1332"
)


@pytest.fixture
async def ingest_client():
    async with running_app(create_app()) as client:
        yield client


async def upload(client: httpx.AsyncClient, key: str, lines: list[str]) -> dict:
    content = ("\r\n".join(lines) + "\r\n").encode("utf-8")
    response = await client.post(
        "/uploads",
        headers={"X-API-Key": key},
        files={"file": ("cartera.csv", content)},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_short_row_keeps_stored_values(ingest_client):
    tenant = await make_tenant()
    key = tenant.api_key.key
    await upload(ingest_client, key, [HEADER, FULL_ROW])
    response = await ingest_client.get("/accounts/RG1", headers={"X-API-Key": key})
    before = response.json()

    second = await upload(ingest_client, key, [HEADER, "RG1,Ana Ruiz,150"])
    response = await ingest_client.get("/accounts/RG1", headers={"X-API-Key": key})
    after = response.json()

    assert second["accounts_updated"] == 1
    assert after["balance_overdue"] == "150.00"
    assert after["phone"] == "+525512345678"
    assert after["address"]["street"] == "Reforma 1"
    assert after["address"]["colonia"] == "Centro"
    assert after["address"]["state"] == "CDMX"
    assert before["location"] == {"lat": 19.4326, "lon": -99.1332}
    assert after["location"] == before["location"]
    [warning] = [e for e in second["errors"] if e["column"] == "phone"]
    assert warning["severity"] == "warning"
    assert warning["row"] == 2
    assert "has 3 cells but the header has 10" in warning["message"]
