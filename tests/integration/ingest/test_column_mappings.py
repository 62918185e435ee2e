import httpx
import pytest

from ingest.app import create_app
from shared.events import topics
from tests.fixtures import hostile_files
from tests.fixtures.apps import running_app
from tests.fixtures.events import read_events
from tests.fixtures.tenants import make_tenant

BANK_EXPORT = (
    "Folio,Referencia bancaria,Acreditado,Importe\r\n"
    "F-1,RB-77,Ana López,100\r\n"
    "F-2,RB-78,Luis Pérez,200\r\n"
).encode()


@pytest.fixture
async def ingest_client():
    async with running_app(create_app()) as client:
        yield client


async def upload(
    client: httpx.AsyncClient,
    key: str,
    content: bytes,
    *,
    mapping: str | None = None,
    filename: str = "cartera.csv",
) -> httpx.Response:
    data = {"mapping": mapping} if mapping is not None else None
    return await client.post(
        "/uploads",
        headers={"X-API-Key": key},
        files={"file": (filename, content)},
        data=data,
    )


class TestSavedMapping:
    async def test_empty_until_saved(self, ingest_client):
        tenant = await make_tenant()
        response = await ingest_client.get(
            "/column-mappings", headers={"X-API-Key": tenant.api_key.key}
        )
        assert response.status_code == 200
        assert response.json()["mapping"] == {}
        assert "account_key" in response.json()["fields"]

    async def test_saved_mapping_is_tenant_scoped(self, ingest_client):
        tenant, other = await make_tenant(), await make_tenant()
        saved = await ingest_client.put(
            "/column-mappings",
            headers={"X-API-Key": tenant.api_key.key},
            json={"mapping": {"Folio": "account_key"}},
        )
        assert saved.status_code == 200
        assert saved.json()["mapping"] == {"Folio": "account_key"}
        mine = await ingest_client.get(
            "/column-mappings", headers={"X-API-Key": tenant.api_key.key}
        )
        theirs = await ingest_client.get(
            "/column-mappings", headers={"X-API-Key": other.api_key.key}
        )
        assert mine.json()["mapping"] == {"Folio": "account_key"}
        assert theirs.json()["mapping"] == {}

    async def test_put_replaces_mapping(self, ingest_client):
        tenant = await make_tenant()
        headers = {"X-API-Key": tenant.api_key.key}
        await ingest_client.put(
            "/column-mappings", headers=headers, json={"mapping": {"A": "phone"}}
        )
        await ingest_client.put(
            "/column-mappings", headers=headers, json={"mapping": {"B": "state"}}
        )
        current = await ingest_client.get("/column-mappings", headers=headers)
        assert current.json()["mapping"] == {"B": "state"}

    async def test_unknown_field_lists_valid_ones(self, ingest_client):
        tenant = await make_tenant()
        response = await ingest_client.put(
            "/column-mappings",
            headers={"X-API-Key": tenant.api_key.key},
            json={"mapping": {"Folio": "acount_key"}},
        )
        assert response.status_code == 422
        problem = response.json()
        assert "acount_key" in problem["detail"]
        assert "account_key" in problem["valid_fields"]
        assert "postal_code" in problem["detail"]

    async def test_field_from_two_headers_rejected(self, ingest_client):
        tenant = await make_tenant()
        response = await ingest_client.put(
            "/column-mappings",
            headers={"X-API-Key": tenant.api_key.key},
            json={"mapping": {"Folio": "account_key", "Clave": "account_key"}},
        )
        assert response.status_code == 422
        assert "both map to account_key" in response.json()["detail"]

    async def test_needs_api_key(self, ingest_client):
        response = await ingest_client.get("/column-mappings")
        assert response.status_code == 401


class TestUploadMapping:
    async def test_saved_mapping_reads_bank_headers(self, ingest_client):
        tenant = await make_tenant()
        headers = {"X-API-Key": tenant.api_key.key}
        await ingest_client.put(
            "/column-mappings",
            headers=headers,
            json={
                "mapping": {
                    "Folio": "account_key",
                    "Referencia bancaria": "credit_number",
                    "Importe": "balance_overdue",
                }
            },
        )
        response = await upload(ingest_client, tenant.api_key.key, BANK_EXPORT)
        assert response.status_code == 201, response.text
        assert response.json()["rows_valid"] == 2
        stored = await ingest_client.get("/accounts/F-1", headers=headers)
        assert stored.status_code == 200
        assert stored.json()["credit_number"] == "RB-77"
        assert stored.json()["balance_overdue"] == "100.00"

    async def test_explicit_mapping_overrides_saved(self, ingest_client):
        tenant = await make_tenant()
        headers = {"X-API-Key": tenant.api_key.key}
        await ingest_client.put(
            "/column-mappings",
            headers=headers,
            json={
                "mapping": {
                    "Folio": "account_key",
                    "Referencia bancaria": "credit_number",
                }
            },
        )
        response = await upload(
            ingest_client,
            tenant.api_key.key,
            BANK_EXPORT,
            mapping='{"Referencia bancaria": "account_key", "Folio": "credit_number"}',
        )
        assert response.status_code == 201, response.text
        report = response.json()
        assert report["columns"]["Referencia bancaria"] == "account_key"
        assert report["columns"]["Folio"] == "credit_number"
        by_reference = await ingest_client.get("/accounts/RB-77", headers=headers)
        assert by_reference.status_code == 200
        assert by_reference.json()["credit_number"] == "F-1"
        by_folio = await ingest_client.get("/accounts/F-1", headers=headers)
        assert by_folio.status_code == 404

    async def test_malformed_mapping_is_422(self, ingest_client):
        tenant = await make_tenant()
        response = await upload(
            ingest_client, tenant.api_key.key, BANK_EXPORT, mapping="{Folio: 1"
        )
        assert response.status_code == 422
        assert "not valid JSON" in response.json()["detail"]

    async def test_mapping_header_absent_from_file(self, ingest_client):
        tenant = await make_tenant()
        response = await upload(
            ingest_client,
            tenant.api_key.key,
            BANK_EXPORT,
            mapping='{"Folio": "account_key", "Nombre": "debtor_name", '
            '"No existe": "phone"}',
        )
        assert response.status_code == 422
        assert "No existe" in response.json()["detail"]
        assert "Acreditado" in response.json()["detail"]


class TestUploadReport:
    async def test_report_lists_skipped_renamed_and_notices(self, ingest_client):
        tenant = await make_tenant()
        key = tenant.api_key.key
        totals = await upload(
            ingest_client, key, hostile_files.totals_rows(), filename="t.xlsx"
        )
        assert totals.status_code == 201, totals.text
        assert totals.json()["rows_total"] == 2
        assert [s["row"] for s in totals.json()["skipped_rows"]] == [4, 5]
        # Totals rows are skipped, not reported; the accounts' only issues are
        # location warnings, because the file carries no municipality.
        issues = totals.json()["errors"]
        assert [issue for issue in issues if issue["severity"] == "error"] == []
        assert {issue["row"] for issue in issues} <= {2, 3}
        duplicates = await upload(
            ingest_client, key, hostile_files.duplicate_headers(), filename="d.xlsx"
        )
        assert duplicates.json()["renamed_duplicate_columns"] == [
            {"header": "Teléfono", "column": "G", "name": "telefono_2"}
        ]
        gap = await upload(
            ingest_client, key, hostile_files.data_after_blank_run(), filename="g.xlsx"
        )
        assert gap.json()["rows_valid"] == 4
        assert "rows 4 to 13 are blank" in gap.json()["notices"][0]
        again = await ingest_client.get(
            f"/uploads/{gap.json()['upload_id']}", headers={"X-API-Key": key}
        )
        assert again.json()["notices"] == gap.json()["notices"]

    async def test_formula_without_result_reported_by_cell(self, ingest_client):
        tenant = await make_tenant()
        response = await upload(
            ingest_client,
            tenant.api_key.key,
            hostile_files.formula_without_saved_result(),
            filename="f.xlsx",
        )
        assert response.status_code == 201
        errors = response.json()["errors"]
        [error] = [issue for issue in errors if issue["severity"] == "error"]
        assert error["row"] == 3
        assert error["column"] == "balance_overdue"
        assert error["value"] == "C3"
        assert error["severity"] == "error"

    async def test_address_details_reach_account_event(self, ingest_client):
        tenant = await make_tenant()
        response = await upload(
            ingest_client, tenant.api_key.key, hostile_files.synonym_headers_csv()
        )
        assert response.status_code == 201, response.text
        stored = await ingest_client.get(
            "/accounts/N-1", headers={"X-API-Key": tenant.api_key.key}
        )
        address = stored.json()["address"]
        assert address["cross_streets"] == "Liverpool y Hamburgo"
        assert address["address_references"] == "Portón verde frente a la farmacia"
        [event] = await read_events(
            topics.ACCOUNTS,
            count=1,
            where=lambda e: e.tenant_id == tenant.tenant_id,
        )
        assert event.data["address"]["cross_streets"] == "Liverpool y Hamburgo"
        assert event.data["address"]["interior_number"] == "4B"


class TestCompetingColumns:
    async def test_report_names_chosen_column(self, ingest_client):
        tenant = await make_tenant()
        content = (
            "Cuenta,Nombre,Nombre del Titular,Saldo,Saldo Vencido,Estado,Municipio\n"
            "C-1,Ana,Ana López,1000,250,Jalisco,Zapopan\n"
        ).encode()

        response = await upload(ingest_client, tenant.api_key.key, content)

        assert response.status_code == 201, response.text
        notices = response.json()["notices"]
        assert any("'Saldo Vencido' was used" in notice for notice in notices)
        assert any("'Nombre del Titular' was used" in notice for notice in notices)
        account = await ingest_client.get(
            "/accounts/C-1", headers={"X-API-Key": tenant.api_key.key}
        )
        assert account.json()["balance_overdue"] == "250.00"
        assert account.json()["extra"]["Saldo"] == "1000"
