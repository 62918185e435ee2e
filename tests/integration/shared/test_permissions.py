"""The scope matrix, generated from the four services' OpenAPI documents.

Every operation a tenant calls lists exactly one scope. For each one, a key
holding every other scope gets a 403, and a key holding only that scope
gets past the check (whatever the operation then answers to made-up ids and
an empty body). Then the key endpoints themselves: shown once, granted only
from what the caller holds, revoked everywhere.
"""

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio

import ingest.app
import matching.app
import reporting.app
import visits.app
from matching.settings import MatchingSettings
from shared.permissions import (
    ALL_SCOPES,
    DEFAULT_KEY_SCOPES,
    ROLE_SCOPES,
    WIDENING_SCOPES,
    Role,
    Scope,
    stored_scopes,
)
from tests.conftest import IsolatedEnvironment
from tests.fixtures.apps import eventually, running_app
from tests.fixtures.tenants import make_tenant

# Agents send only a bearer token; a tenant's key may also come as X-API-Key,
# so an operation that accepts that header is a tenant's.
TENANT_SCHEME = "APIKeyHeader"
PATH_PARAMETER = re.compile(r"\{[^}]+\}")
# Answers that show the scope check let the request through. A merge-patch
# endpoint checks the Content-Type after the scope, so its 415 counts too.
PAST_THE_CHECK = {200, 201, 202, 204, 404, 409, 415, 422}


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str
    scope: str
    streams: bool

    def url(self) -> str:
        return PATH_PARAMETER.sub(lambda _: str(uuid.uuid4()), self.path)

    def __str__(self) -> str:
        return f"{self.service} {self.method.upper()} {self.path}"


def _apps() -> dict[str, object]:
    return {
        "ingest": ingest.app.create_app(),
        "matching": matching.app.create_app(MatchingSettings(batch_interval_seconds=0)),
        "visits": visits.app.create_app(),
        "reporting": reporting.app.create_app(),
    }


def tenant_operations() -> list[Operation]:
    """List every operation whose security names a tenant's key."""
    found = []
    for service, app in _apps().items():
        document = app.openapi()  # type: ignore[attr-defined]
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                requirements = operation.get("security", [])
                if not any(TENANT_SCHEME in r for r in requirements):
                    continue
                tenant = requirements
                scopes = {s for r in tenant for values in r.values() for s in values}
                content = {
                    media
                    for response in operation.get("responses", {}).values()
                    for media in response.get("content", {})
                }
                found.append(
                    Operation(
                        service=service,
                        method=method,
                        path=path,
                        scope=",".join(sorted(scopes)),
                        streams="text/event-stream" in content,
                    )
                )
    return found


OPERATIONS = tenant_operations()


def test_every_tenant_operation_names_one_scope() -> None:
    unscoped = [str(op) for op in OPERATIONS if op.scope not in set(Scope)]

    assert unscoped == []
    assert len(OPERATIONS) > 40


def test_every_scope_guards_something() -> None:
    used = {op.scope for op in OPERATIONS}

    assert used == {scope.value for scope in set(Scope) - WIDENING_SCOPES}


@pytest_asyncio.fixture(scope="module")
async def clients(
    service_env: IsolatedEnvironment,
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    apps = _apps()
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


@dataclass(frozen=True)
class Keys:
    admin: str
    only: dict[str, str]
    all_but: dict[str, str]
    # A logged-in person's access token per role, all of one tenant.
    roles: dict[Role, str]


async def _new_key(
    client: httpx.AsyncClient, admin: str, scopes: list[str], name: str
) -> str:
    response = await client.post(
        "/api-keys",
        headers={"X-API-Key": admin},
        json={"name": name, "scopes": scopes},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


async def _known_everywhere(
    clients: dict[str, httpx.AsyncClient], key: str, header: str = "X-API-Key"
) -> None:
    """Wait until every service has read the key from the tenants topic."""
    probes = {
        "matching": "/assignments/" + str(uuid.uuid4()),
        "visits": "/visits/" + str(uuid.uuid4()),
        "reporting": "/webhooks/" + str(uuid.uuid4()),
    }
    for service, path in probes.items():

        async def known(service: str = service, path: str = path) -> bool:
            response = await clients[service].get(path, headers={header: key})
            return response.status_code != 401

        await eventually(known, message=f"key known to {service}")


@pytest_asyncio.fixture(scope="module")
async def keys(clients: dict[str, httpx.AsyncClient]) -> Keys:
    tenant = await make_tenant()
    admin = tenant.api_key.key
    ingest_client = clients["ingest"]
    only, all_but = {}, {}
    for scope in Scope:
        only[scope.value] = await _new_key(
            ingest_client, admin, [scope.value], f"only {scope.value}"
        )
        all_but[scope.value] = await _new_key(
            ingest_client,
            admin,
            stored_scopes(ALL_SCOPES - {scope}),
            f"all but {scope.value}",
        )
    roles = {role: await _logged_in(ingest_client, admin, role) for role in Role}
    await _known_everywhere(clients, only[Scope.KEYS_MANAGE.value])
    await _known_everywhere(clients, all_but[Scope.KEYS_MANAGE.value])
    await _known_everywhere(clients, roles[Role.ANALYST], header="Authorization")
    return Keys(admin=admin, only=only, all_but=all_but, roles=roles)


async def _logged_in(client: httpx.AsyncClient, admin: str, role: Role) -> str:
    email = f"{role.value}-{uuid.uuid4().hex[:8]}@financiera.mx"
    password = "caballo correcto batería"
    created = await client.post(
        "/users",
        headers={"X-API-Key": admin},
        json={
            "email": email,
            "name": f"Persona {role.value}",
            "role": role.value,
            "password": password,
        },
    )
    assert created.status_code == 201, created.text
    login = await client.post(
        "/auth/login", json={"email": email, "password": password}
    )
    assert login.status_code == 200, login.text
    return f"Bearer {login.json()['access_token']}"


async def _call(
    clients: dict[str, httpx.AsyncClient],
    op: Operation,
    key: str,
    header: str = "X-API-Key",
) -> httpx.Response:
    return await clients[op.service].request(op.method, op.url(), headers={header: key})


@pytest.mark.parametrize("op", OPERATIONS, ids=str)
async def test_key_without_scope_forbidden(
    clients: dict[str, httpx.AsyncClient], keys: Keys, op: Operation
) -> None:
    response = await _call(clients, op, keys.all_but[op.scope])

    assert response.status_code == 403, response.text
    assert response.json()["missing_scopes"] == [op.scope]


@pytest.mark.parametrize("op", [o for o in OPERATIONS if not o.streams], ids=str)
async def test_key_with_scope_passes(
    clients: dict[str, httpx.AsyncClient], keys: Keys, op: Operation
) -> None:
    response = await _call(clients, op, keys.only[op.scope])

    assert response.status_code in PAST_THE_CHECK, response.text


@pytest.mark.parametrize("role", list(Role), ids=str)
async def test_role_matrix(
    clients: dict[str, httpx.AsyncClient], keys: Keys, role: Role
) -> None:
    wrong = []
    for op in OPERATIONS:
        if op.streams and Scope(op.scope) in ROLE_SCOPES[role]:
            continue
        response = await _call(clients, op, keys.roles[role], header="Authorization")
        allowed = Scope(op.scope) in ROLE_SCOPES[role]
        if allowed != (response.status_code in PAST_THE_CHECK):
            wrong.append(f"{op}: {response.status_code}")
        elif not allowed and response.status_code != 403:
            wrong.append(f"{op}: {response.status_code}, expected 403")

    assert wrong == []


async def test_key_shown_once_and_listed(
    clients: dict[str, httpx.AsyncClient], keys: Keys
) -> None:
    created = await clients["ingest"].post(
        "/api-keys",
        headers={"X-API-Key": keys.admin},
        json={"name": "  ERP   sync ", "scopes": ["results:read"]},
    )
    listed = await clients["ingest"].get("/api-keys", headers={"X-API-Key": keys.admin})

    body = created.json()
    assert created.status_code == 201
    assert body["key"].startswith(body["prefix"])
    assert body["name"] == "ERP sync"
    assert body["scopes"] == ["results:read"]
    row = next(
        item for item in listed.json()["items"] if item["key_id"] == body["key_id"]
    )
    assert "key" not in row
    assert row["revoked_at"] is None


async def test_default_key_cannot_mint_keys(
    clients: dict[str, httpx.AsyncClient], keys: Keys
) -> None:
    created = await clients["ingest"].post(
        "/api-keys", headers={"X-API-Key": keys.admin}, json={}
    )

    assert created.status_code == 201
    assert Scope.KEYS_MANAGE.value not in created.json()["scopes"]
    assert Scope.USERS_MANAGE.value not in created.json()["scopes"]
    assert Scope.AUDIT_READ.value not in created.json()["scopes"]
    assert set(created.json()["scopes"]) == {
        scope.value for scope in DEFAULT_KEY_SCOPES
    }


async def test_grant_beyond_own_scopes_forbidden(
    clients: dict[str, httpx.AsyncClient], keys: Keys
) -> None:
    response = await clients["ingest"].post(
        "/api-keys",
        headers={"X-API-Key": keys.only[Scope.KEYS_MANAGE.value]},
        json={"scopes": ["keys:manage", "results:read"]},
    )

    assert response.status_code == 403
    assert response.json()["missing_scopes"] == ["results:read"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"scopes": ["results:write"]}, "results:write"),
        ({"scopes": []}, "at least one scope"),
        ({"name": "   "}, "empty"),
        ({"name": "\u200b\u2060"}, "invisible characters"),
        ({"scopes": ["results:read"], "role": "admin"}, "role"),
    ],
)
async def test_invalid_key_request_rejected(
    clients: dict[str, httpx.AsyncClient], keys: Keys, body: dict, named: str
) -> None:
    response = await clients["ingest"].post(
        "/api-keys", headers={"X-API-Key": keys.admin}, json=body
    )

    assert response.status_code == 422
    assert named in response.text


async def test_revoked_key_refused_everywhere(
    clients: dict[str, httpx.AsyncClient], keys: Keys
) -> None:
    created = await clients["ingest"].post(
        "/api-keys",
        headers={"X-API-Key": keys.admin},
        json={"scopes": ["results:read", "webhooks:manage"]},
    )
    key, key_id = created.json()["key"], created.json()["key_id"]
    await _known_everywhere(clients, key)

    first = await clients["ingest"].delete(
        f"/api-keys/{key_id}", headers={"X-API-Key": keys.admin}
    )
    again = await clients["ingest"].delete(
        f"/api-keys/{key_id}", headers={"X-API-Key": keys.admin}
    )

    for service, path in (("reporting", "/webhooks"), ("visits", "/visits")):

        async def refused(service: str = service, path: str = path) -> bool:
            response = await clients[service].get(path, headers={"X-API-Key": key})
            return response.status_code == 401

        await eventually(refused, message=f"revoked key refused by {service}")
    in_ingest = await clients["ingest"].get("/campaigns", headers={"X-API-Key": key})
    listed = await clients["ingest"].get("/api-keys", headers={"X-API-Key": keys.admin})
    assert first.status_code == 204
    assert again.status_code == 204
    row = next(item for item in listed.json()["items"] if item["key_id"] == key_id)
    assert row["revoked_at"] is not None
    assert in_ingest.status_code == 401


async def test_revoking_a_wider_key_forbidden(
    clients: dict[str, httpx.AsyncClient], keys: Keys
) -> None:
    ingest_client = clients["ingest"]
    listed = await ingest_client.get("/api-keys", headers={"X-API-Key": keys.admin})
    admin_id = next(
        item["key_id"]
        for item in listed.json()["items"]
        if item["name"] == "administrator"
    )
    manager = await _new_key(
        ingest_client, keys.admin, ["keys:manage", "results:read"], "manager"
    )
    narrower = await ingest_client.post(
        "/api-keys", headers={"X-API-Key": manager}, json={"scopes": ["results:read"]}
    )

    on_admin = await ingest_client.delete(
        f"/api-keys/{admin_id}", headers={"X-API-Key": manager}
    )
    on_narrower = await ingest_client.delete(
        f"/api-keys/{narrower.json()['key_id']}", headers={"X-API-Key": manager}
    )
    admin_still = await ingest_client.get(
        "/api-keys", headers={"X-API-Key": keys.admin}
    )

    assert on_admin.status_code == 403, on_admin.text
    assert "audit:read" in on_admin.json()["missing_scopes"]
    assert admin_id in on_admin.json()["detail"]
    assert on_narrower.status_code == 204
    assert admin_still.status_code == 200


async def test_other_tenants_key_not_found(
    clients: dict[str, httpx.AsyncClient], keys: Keys
) -> None:
    other = await make_tenant()

    response = await clients["ingest"].delete(
        f"/api-keys/{other.api_key.key_id}", headers={"X-API-Key": keys.admin}
    )
    still_works = await clients["ingest"].get(
        "/api-keys", headers={"X-API-Key": other.api_key.key}
    )

    assert response.status_code == 404
    assert still_works.status_code == 200
