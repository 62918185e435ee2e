"""Debtors' personal data by caller: full with personal:read, masked without.

The matrix: a tenant administrator, a director and a key holding
personal:read see names, phones, street addresses and notes in full. An
analyst and a key without the scope see them masked, with the postal code,
municipality and state kept. Every read is audited either way. Each endpoint
that returns a name or a phone is checked for each caller, and a check
generated from the OpenAPI documents makes sure that no other tenant
endpoint returns a field named like one.
"""

import csv
import io
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio

import ingest.app
import matching.app
import reporting.app
import visits.app
from ingest.tenants import CreatedTenant
from matching.settings import MatchingSettings
from shared.events.payloads import (
    ContactDataUpdated,
    ContactUpdate,
    PhoneKind,
    Relation,
    ReportedPhone,
)
from shared.masking import mask_name, mask_phone
from tests.conftest import IsolatedEnvironment
from tests.fixtures.apps import eventually, running_app
from tests.fixtures.events import publish
from tests.fixtures.photos import make_image
from tests.fixtures.portfolios import account_row, xlsx_bytes
from tests.fixtures.tenants import make_tenant
from tests.integration.reporting.helpers import CampaignFlow
from tests.integration.visits.helpers import assigned_visit, check_in_body, result_body
from visits.images import read_facts

PASSWORD = "caballo correcto batería"
DEBTOR = "María Guadalupe Hernández"
READ_SCOPES = ["accounts:read", "accounts:write", "results:read"]
NEW_PHONE = "+525598765432"
HEARD_PHONE = "+525511112222"
STREET = "Av. Insurgentes Sur"
RESULT_NOTES = "Promised to pay next week"
# Names of the response fields that contain a debtor's name or phone.
PERSONAL_FIELD = re.compile(r"debtor_name|phone")
# Every tenant operation whose response contains such a field and is masked.
MASKED_OPERATIONS = {
    "ingest GET /accounts",
    "ingest GET /accounts/{account_ref}",
    "ingest PATCH /accounts/{account_ref}",
    "ingest POST /accounts/{account_ref}/recall",
    "visits GET /visits/{visit_id}",
}


@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str]
    actor: str
    full: bool


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
    return await make_tenant()


@pytest_asyncio.fixture(scope="module")
async def callers(
    clients: dict[str, httpx.AsyncClient], tenant: CreatedTenant
) -> dict[str, Caller]:
    admin = {"X-API-Key": tenant.api_key.key}
    found = {
        "admin": Caller("admin", admin, f"key:{tenant.api_key.key_id}", full=True),
        "key_with_pii": await _key_caller(
            clients, admin, [*READ_SCOPES, "personal:read"], full=True
        ),
        "key_without_pii": await _key_caller(clients, admin, READ_SCOPES, full=False),
        "director": await _person(clients, admin, "director", full=True),
        "analyst": await _person(clients, admin, "analyst", full=False),
    }
    for caller in found.values():
        await _known_everywhere(clients, caller)
    return found


async def _key_caller(
    clients: dict[str, httpx.AsyncClient],
    admin: dict[str, str],
    scopes: list[str],
    *,
    full: bool,
) -> Caller:
    created = await clients["ingest"].post(
        "/api-keys", headers=admin, json={"scopes": scopes}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    name = "key_with_pii" if full else "key_without_pii"
    return Caller(name, {"X-API-Key": body["key"]}, f"key:{body['key_id']}", full)


async def _person(
    clients: dict[str, httpx.AsyncClient],
    admin: dict[str, str],
    role: str,
    *,
    full: bool,
) -> Caller:
    email = f"{role}-{uuid.uuid4().hex[:8]}@financiera.mx"
    created = await clients["ingest"].post(
        "/users",
        headers=admin,
        json={"email": email, "name": "Ana", "role": role, "password": PASSWORD},
    )
    assert created.status_code == 201, created.text
    login = await clients["ingest"].post(
        "/auth/login", json={"email": email, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    return Caller(role, headers, f"user:{login.json()['user_id']}", full)


async def _known_everywhere(
    clients: dict[str, httpx.AsyncClient], caller: Caller
) -> None:
    for service, path in (("visits", "/visits"), ("reporting", "/campaigns")):

        async def known(service: str = service, path: str = path) -> bool:
            response = await clients[service].get(path, headers=caller.headers)
            return response.status_code == 200

        await eventually(
            known, timeout_seconds=90, message=f"{caller.name} known to {service}"
        )


@pytest_asyncio.fixture(scope="module")
async def account_key(
    clients: dict[str, httpx.AsyncClient], tenant: CreatedTenant
) -> str:
    """An account uploaded twice, so its history shows a phone change."""
    key = f"MK-{uuid.uuid4().hex[:8]}"
    admin = {"X-API-Key": tenant.api_key.key}
    for phone in ("55 1234 5678", "55 8765 4321"):
        upload = await clients["ingest"].post(
            "/uploads",
            headers=admin,
            files={
                "file": ("cartera.xlsx", xlsx_bytes([account_row(key, phone=phone)]))
            },
        )
        assert upload.status_code == 201, upload.text
    return key


@pytest_asyncio.fixture(scope="module")
async def visit_id(clients: dict[str, httpx.AsyncClient], tenant: CreatedTenant) -> str:
    """A completed visit whose result brought a new phone and a heard one."""
    visit = await assigned_visit(clients["visits"], tenant.tenant_id)
    checked_in = await clients["visits"].post(
        f"{visit.path}/check-in", json=check_in_body(), headers=visit.headers
    )
    contact = {
        "phones": [{"number": HEARD_PHONE, "given_by": "self"}],
        "new_address": {
            "address": {
                "street": "Calle Mina",
                "exterior_number": "15",
                "postal_code": "06300",
                "municipality": "Cuauhtémoc",
            },
            "given_by": "self",
        },
    }
    filed = await clients["visits"].post(
        f"{visit.path}/result",
        json=result_body(new_phone=NEW_PHONE, contact_update=contact),
        headers=visit.headers,
    )
    assert checked_in.status_code == 201, checked_in.text
    assert filed.status_code == 201, filed.text
    return str(visit.request.visit_id)


@pytest_asyncio.fixture(scope="module")
async def exported_campaign(
    clients: dict[str, httpx.AsyncClient], tenant: CreatedTenant
) -> uuid.UUID:
    """A campaign reporting can export, with a phone heard on its first visit."""
    flow = CampaignFlow(tenant.tenant_id)
    phone = ReportedPhone(
        number=HEARD_PHONE,
        kind=PhoneKind.MOBILE,
        owner=Relation.SELF,
        given_by=Relation.SELF,
    )
    heard = ContactDataUpdated(
        tenant_id=flow.tenant_id,
        visit_id=flow.visit_ids[0],
        campaign_id=flow.campaign_id,
        account_id=flow.account_ids[0],
        account_key="ACC-0",
        agent_id=flow.agent_id,
        result_id=uuid.uuid4(),
        result_code="promesa_pago",
        reported_at=flow.at(5400),
        update=ContactUpdate(phones=[phone]),
    )
    await publish([*flow.all_events(), heard])
    admin = {"X-API-Key": tenant.api_key.key}

    async def exported() -> bool:
        rows = await _export_rows(clients, flow.campaign_id, admin)
        return any(HEARD_PHONE in str(row["Teléfonos nuevos"]) for row in rows)

    await eventually(exported, timeout_seconds=90, message="campaign exported")
    return flow.campaign_id


async def _export_rows(
    clients: dict[str, httpx.AsyncClient],
    campaign_id: uuid.UUID,
    headers: dict[str, str],
) -> list[dict[str, Any]]:
    response = await clients["reporting"].get(
        f"/campaigns/{campaign_id}/export.csv", headers=headers
    )
    if response.status_code != 200:
        return []
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


CALLERS = ["admin", "director", "key_with_pii", "analyst", "key_without_pii"]


def expect_name(caller: Caller, full: str) -> str | None:
    return full if caller.full else mask_name(full)


def expect_phone(caller: Caller, full: str | None) -> str | None:
    return full if caller.full else mask_phone(full)


@pytest.mark.parametrize("who", CALLERS)
async def test_accounts_by_caller(clients, callers, account_key, who) -> None:
    caller = callers[who]
    admin = callers["admin"]
    full = (await clients["ingest"].get(f"/accounts/{account_key}", **_h(admin))).json()

    one = await clients["ingest"].get(f"/accounts/{account_key}", **_h(caller))
    page = await clients["ingest"].get(
        "/accounts", params={"q": account_key}, **_h(caller)
    )
    history = await clients["ingest"].get(
        f"/accounts/{account_key}/history", **_h(caller)
    )

    assert full["debtor_name"] == DEBTOR
    assert full["phone"]
    for account in (one.json(), page.json()["items"][0]):
        assert account["debtor_name"] == expect_name(caller, DEBTOR)
        assert account["phone"] == expect_phone(caller, full["phone"])
        assert account["address"]["street"] == (STREET if caller.full else "***")
        assert account["address"]["colonia"] == (
            full["address"]["colonia"] if caller.full else "***"
        )
        for kept in ("postal_code", "municipality", "state"):
            assert account["address"][kept] == full["address"][kept]
        assert account["location"]["lat"] == (
            full["location"]["lat"]
            if caller.full
            else round(full["location"]["lat"], 2)
        )
    [change] = [
        item["changes"]["phone"]
        for item in history.json()["items"]
        if "phone" in item["changes"] and item["changes"]["phone"]["old"]
    ]
    assert change["new"] == expect_phone(caller, full["phone"])
    assert caller.full or DEBTOR not in history.text


@pytest.mark.parametrize(
    "who", ["admin", "director", "key_with_pii", "key_without_pii"]
)
async def test_account_changes_answered_by_caller(
    clients, callers, account_key, who
) -> None:
    caller = callers[who]

    patched = await clients["ingest"].patch(
        f"/accounts/{account_key}", json={"tags": ["revisar"]}, **_h(caller)
    )

    assert patched.status_code == 200, patched.text
    assert patched.json()["debtor_name"] == expect_name(caller, DEBTOR)


@pytest.mark.parametrize("who", CALLERS)
async def test_account_notes_by_caller(clients, callers, account_key, who) -> None:
    caller = callers[who]
    note = "su hermano pide que no vengan antes de las 10"
    flagged = await clients["ingest"].patch(
        f"/accounts/{account_key}",
        json={"do_not_contact": {"reason": "other", "note": note}},
        **_h(callers["admin"]),
    )
    assert flagged.status_code == 200, flagged.text

    one = await clients["ingest"].get(f"/accounts/{account_key}", **_h(caller))

    assert one.json()["do_not_contact_note"] == (note if caller.full else "***")


async def test_masked_caller_cannot_search_by_name(
    clients, callers, account_key
) -> None:
    surname = {"q": "Guadalupe Hern"}

    by_analyst = await clients["ingest"].get(
        "/accounts", params=surname, **_h(callers["analyst"])
    )
    by_director = await clients["ingest"].get(
        "/accounts", params=surname, **_h(callers["director"])
    )

    assert account_key not in by_analyst.text
    assert account_key in by_director.text


@pytest.mark.parametrize("who", CALLERS)
async def test_visit_detail_by_caller(clients, callers, visit_id, who) -> None:
    caller = callers[who]

    response = await clients["visits"].get(f"/visits/{visit_id}", **_h(caller))

    result = response.json()["result"]
    assert response.status_code == 200
    assert result["new_phone"] == expect_phone(caller, NEW_PHONE)
    heard = result["contact_update"]["phones"][0]["number"]
    assert heard == expect_phone(caller, HEARD_PHONE)
    assert result["notes"] == (RESULT_NOTES if caller.full else "***")
    moved = result["contact_update"]["new_address"]["address"]
    assert moved["street"] == ("Calle Mina" if caller.full else "***")
    assert moved["exterior_number"] == ("15" if caller.full else "***")
    assert (moved["postal_code"], moved["municipality"]) == ("06300", "Cuauhtémoc")
    # Text answers are masked. Numbers and booleans are kept.
    assert result["answers"] == (
        {"reason": "job_loss", "monthly_income": 8000}
        if caller.full
        else {"reason": "***", "monthly_income": 8000}
    )


@pytest.mark.parametrize("who", CALLERS)
async def test_photo_file_by_caller(clients, callers, tenant, who) -> None:
    caller = callers[who]
    visit = await assigned_visit(clients["visits"], tenant.tenant_id)
    checked_in = await clients["visits"].post(
        f"{visit.path}/check-in", json=check_in_body(), headers=visit.headers
    )
    taken = make_image(position=(19.432534, -99.133213))
    uploaded = await clients["visits"].post(
        f"{visit.path}/photos",
        content=taken,
        headers={**visit.headers, "Content-Type": "image/jpeg"},
    )
    assert checked_in.status_code == 201, checked_in.text
    assert uploaded.status_code == 201, uploaded.text
    path = f"/visits/{visit.request.visit_id}/photos/{uploaded.json()['photo_id']}"

    served = await clients["visits"].get(path, **_h(caller))

    assert served.status_code == 200, served.text
    position = read_facts(served.content, "jpeg").lat
    assert position == (pytest.approx(19.432534, abs=1e-4) if caller.full else None)


EXTRA_EMAIL = "rosa.fila@correo.mx"
REPORTED_NAME = "Rosa Mala Fila"
REPORTED_STREET = "Calle Dañada 5"


@pytest_asyncio.fixture(scope="module")
async def reported_upload(
    clients: dict[str, httpx.AsyncClient], tenant: CreatedTenant
) -> tuple[str, str]:
    """An upload whose one row carries a birth date, an added column and a warning."""
    key = f"RP-{uuid.uuid4().hex[:8]}"
    lines = [
        "Cuenta,Nombre,Saldo Vencido,Días de Atraso,Calle,C.P.,Alcaldía / Municipio,"
        "Estado,Teléfono,Fecha de Nacimiento,Correo,Latitud,Longitud",
        f"{key},{REPORTED_NAME},1000,10,{REPORTED_STREET},06000,Cuauhtémoc,"
        f"Ciudad de México,+525511223344,1980-02-03,{EXTRA_EMAIL},no-es-latitud,-99.1",
    ]
    upload = await clients["ingest"].post(
        "/uploads",
        headers={"X-API-Key": tenant.api_key.key},
        files={"file": ("cartera.csv", "\n".join(lines).encode())},
    )
    assert upload.status_code == 201, upload.text
    return key, upload.json()["upload_id"]


@pytest.mark.parametrize("who", CALLERS)
async def test_birth_date_and_added_columns_by_caller(
    clients, callers, reported_upload, who
) -> None:
    caller = callers[who]
    key, _ = reported_upload

    account = await clients["ingest"].get(f"/accounts/{key}", **_h(caller))

    body = account.json()
    assert account.status_code == 200, account.text
    assert body["birth_date"] == ("1980-02-03" if caller.full else None)
    assert list(body["extra"].values()) == [EXTRA_EMAIL if caller.full else "***"]


@pytest.mark.parametrize("who", CALLERS)
async def test_upload_report_file_by_caller(
    clients, callers, reported_upload, who
) -> None:
    caller = callers[who]
    _, upload_id = reported_upload

    report = await clients["ingest"].get(
        f"/uploads/{upload_id}/report.csv", **_h(caller)
    )

    assert report.status_code == 200, report.text
    [header, row] = list(csv.reader(io.StringIO(report.text)))
    cells = dict(zip(header, row, strict=False))
    assert cells["Nombre"] == expect_name(caller, REPORTED_NAME)
    # A masked phone is not a number, so the CSV guards it against formulas.
    phone = cells["Teléfono"].removeprefix("'")
    assert phone == expect_phone(caller, "+525511223344")
    assert cells["C.P."] == "06000"
    if caller.full:
        assert cells["Calle"] == REPORTED_STREET
        assert cells["Correo"] == EXTRA_EMAIL
    else:
        for personal in (REPORTED_NAME, REPORTED_STREET, EXTRA_EMAIL, "1980-02-03"):
            assert personal not in report.text
        assert "latitude" in cells["Errors"]


@pytest.mark.parametrize("who", CALLERS)
async def test_export_by_caller(clients, callers, exported_campaign, who) -> None:
    caller = callers[who]

    rows = await _export_rows(clients, exported_campaign, caller.headers)

    names = {row["Deudor"] for row in rows}
    phones = " ".join(str(row["Teléfonos nuevos"]) for row in rows)
    assert names == {expect_name(caller, "Deudor de prueba")}
    assert str(expect_phone(caller, HEARD_PHONE)) in phones
    assert (HEARD_PHONE in phones) is caller.full
    addresses = {row["Dirección"] for row in rows}
    assert addresses == ({"Calle 1, C.P. 64000"} if caller.full else {"C.P. 64000"})


async def test_masked_and_full_reads_audited(
    clients, tenant, callers, account_key
) -> None:
    account = await clients["ingest"].get(
        f"/accounts/{account_key}", **_h(callers["analyst"])
    )
    account_id = account.json()["account_id"]
    await clients["ingest"].get(f"/accounts/{account_key}", **_h(callers["director"]))
    admin = {"X-API-Key": tenant.api_key.key}

    async def director_logged() -> list[dict[str, Any]] | None:
        response = await clients["reporting"].get(
            "/audit", headers=admin, params={"resource_id": account_id}
        )
        items = response.json()["items"]
        actors = {item["actor"] for item in items}
        return items if callers["director"].actor in actors else None

    # Records of one tenant share a partition, so the analyst's earlier read
    # is logged by the time the director's is.
    entries = await eventually(director_logged, message="director's read logged")

    assert callers["analyst"].actor in {entry["actor"] for entry in entries}


def test_every_personal_field_is_masked() -> None:
    """Find, in the OpenAPI documents, every tenant response with a name or phone."""
    found = set()
    for service, app in _apps().items():
        document = app.openapi()
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                if not _tenant_operation(operation):
                    continue
                if _personal_fields(document, operation):
                    found.add(f"{service} {method.upper()} {path}")

    assert found == MASKED_OPERATIONS


def _h(caller: Caller) -> dict[str, Any]:
    return {"headers": caller.headers}


def _apps() -> dict[str, Any]:
    return {
        "ingest": ingest.app.create_app(),
        "matching": matching.app.create_app(MatchingSettings(batch_interval_seconds=0)),
        "visits": visits.app.create_app(),
        "reporting": reporting.app.create_app(),
    }


def _tenant_operation(operation: dict[str, Any]) -> bool:
    return any("APIKeyHeader" in r for r in operation.get("security", []))


def _personal_fields(document: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    schemas = document.get("components", {}).get("schemas", {})
    found: set[str] = set()
    for status, response in operation.get("responses", {}).items():
        if status.startswith("2"):
            for content in response.get("content", {}).values():
                found |= _fields_in(schemas, content.get("schema"), frozenset())
    return found


def _fields_in(schemas: dict[str, Any], schema: Any, seen: frozenset[str]) -> set[str]:
    """Return the names of personal fields reachable from `schema`."""
    if not isinstance(schema, dict):
        return set()
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return set()
        return _fields_in(schemas, schemas[name], seen | {name})
    found = {
        name for name in schema.get("properties", {}) if PERSONAL_FIELD.search(name)
    }
    children = [
        *schema.get("properties", {}).values(),
        schema.get("items"),
        schema.get("additionalProperties"),
        *schema.get("anyOf", []),
        *schema.get("oneOf", []),
        *schema.get("allOf", []),
    ]
    for child in children:
        found |= _fields_in(schemas, child, seen)
    return found
