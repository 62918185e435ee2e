"""People log in with a password and use short-lived tokens, on the real apps."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest_asyncio
from sqlalchemy import update

import ingest.app
import visits.app
from ingest.models import common
from ingest.settings import IngestSettings
from ingest.tenants import CreatedTenant
from ingest.users.signing import rotate_signing_key
from shared.auth import issue_agent_token
from shared.db import create_engine, create_sessionmaker
from shared.permissions import ROLE_SCOPES, Role
from tests.conftest import IsolatedEnvironment
from tests.fixtures.apps import eventually, running_app
from tests.fixtures.tenants import make_tenant
from visits.settings import VisitsSettings

PASSWORD = "caballo correcto batería"


@pytest_asyncio.fixture(scope="module")
async def apps(
    service_env: IsolatedEnvironment,
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with (
        running_app(ingest.app.create_app()) as ingest_client,
        running_app(visits.app.create_app()) as visits_client,
    ):
        yield ingest_client, visits_client


@pytest_asyncio.fixture(scope="module")
async def tenant(apps) -> CreatedTenant:
    return await make_tenant()


async def new_user(
    client: httpx.AsyncClient, tenant: CreatedTenant, role: str = "director"
) -> str:
    email = f"persona-{uuid.uuid4().hex[:8]}@financiera.mx"
    response = await client.post(
        "/users",
        headers={"X-API-Key": tenant.api_key.key},
        json={"email": email, "name": "Ana Torres", "role": role, "password": PASSWORD},
    )
    assert response.status_code == 201, response.text
    return email


async def log_in(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": PASSWORD})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_login_token_works_in_other_service(apps, tenant) -> None:
    ingest_client, visits_client = apps
    email = await new_user(ingest_client, tenant)

    login = await log_in(ingest_client, email.upper())
    token = login.json()["access_token"]

    async def accepted() -> bool:
        response = await visits_client.get("/visits", headers=bearer(token))
        return response.status_code == 200

    await eventually(
        accepted, timeout_seconds=90, message="visits accepts the access token"
    )
    assert login.status_code == 200
    assert login.json()["role"] == "director"
    assert login.json()["tenant_id"] == str(tenant.tenant_id)
    assert login.json()["expires_in"] == 15 * 60


async def test_wrong_password_like_unknown_email(apps, tenant) -> None:
    ingest_client, _ = apps
    email = await new_user(ingest_client, tenant)

    wrong = await ingest_client.post(
        "/auth/login", json={"email": email, "password": "not the password"}
    )
    unknown = await ingest_client.post(
        "/auth/login", json={"email": "nadie@financiera.mx", "password": PASSWORD}
    )

    assert wrong.status_code == 401
    assert unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_refresh_rotates_and_reuse_ends_family(apps, tenant) -> None:
    ingest_client, _ = apps
    email = await new_user(ingest_client, tenant)
    first = (await log_in(ingest_client, email)).json()

    second = await ingest_client.post(
        "/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    reused = await ingest_client.post(
        "/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    after_reuse = await ingest_client.post(
        "/auth/refresh", json={"refresh_token": second.json()["refresh_token"]}
    )

    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    assert reused.status_code == 401
    assert "used already" in reused.json()["detail"]
    assert after_reuse.status_code == 401


async def test_logout_ends_refresh(apps, tenant) -> None:
    ingest_client, _ = apps
    email = await new_user(ingest_client, tenant)
    pair = (await log_in(ingest_client, email)).json()

    out = await ingest_client.post(
        "/auth/logout", json={"refresh_token": pair["refresh_token"]}
    )
    refreshed = await ingest_client.post(
        "/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )

    assert out.status_code == 204
    assert refreshed.status_code == 401


async def test_disabled_user_cannot_log_in(apps, tenant) -> None:
    ingest_client, _ = apps
    email = await new_user(ingest_client, tenant)
    pair = (await log_in(ingest_client, email)).json()

    disabled = await ingest_client.patch(
        f"/users/{pair['user_id']}",
        headers={"X-API-Key": tenant.api_key.key},
        json={"disabled": True},
    )
    login = await log_in(ingest_client, email)
    refreshed = await ingest_client.post(
        "/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )

    assert disabled.status_code == 200
    assert disabled.json()["disabled_at"] is not None
    assert login.status_code == 401
    assert refreshed.status_code == 401


async def test_weak_password_and_taken_email(apps, tenant) -> None:
    ingest_client, _ = apps
    email = await new_user(ingest_client, tenant)
    headers = {"X-API-Key": tenant.api_key.key}
    body = {"email": email, "name": "Otra", "role": "analyst", "password": PASSWORD}

    weak = await ingest_client.post(
        "/users", headers=headers, json={**body, "email": "x@y.mx", "password": "corta"}
    )
    taken = await ingest_client.post("/users", headers=headers, json=body)
    bad_role = await ingest_client.post(
        "/users", headers=headers, json={**body, "role": "operator"}
    )

    assert weak.status_code == 422
    assert taken.status_code == 409
    assert email not in taken.json()["detail"]
    assert bad_role.status_code == 422


async def test_email_taken_elsewhere_answers_like_taken_here(apps, tenant) -> None:
    ingest_client, _ = apps
    email = await new_user(ingest_client, tenant)
    other = await make_tenant()
    body = {"email": email, "name": "Otra", "role": "analyst", "password": PASSWORD}

    here = await ingest_client.post(
        "/users", headers={"X-API-Key": tenant.api_key.key}, json=body
    )
    elsewhere = await ingest_client.post(
        "/users", headers={"X-API-Key": other.api_key.key}, json=body
    )

    assert elsewhere.status_code == here.status_code == 409
    assert elsewhere.json()["detail"] == here.json()["detail"]
    assert email not in elsewhere.text
    assert "exists" not in elsewhere.json()["detail"]


async def test_other_tenants_user_not_found(apps, tenant) -> None:
    ingest_client, _ = apps
    email = await new_user(ingest_client, tenant)
    user_id = (await log_in(ingest_client, email)).json()["user_id"]
    other = await make_tenant()

    response = await ingest_client.patch(
        f"/users/{user_id}",
        headers={"X-API-Key": other.api_key.key},
        json={"disabled": True},
    )
    listed = await ingest_client.get("/users", headers={"X-API-Key": other.api_key.key})

    assert response.status_code == 404
    assert listed.json()["items"] == []


async def test_invisible_name_refused(apps, tenant) -> None:
    ingest_client, _ = apps
    email = f"persona-{uuid.uuid4().hex[:8]}@financiera.mx"
    body = {"email": email, "role": "analyst", "password": PASSWORD}

    refused = [
        await ingest_client.post(
            "/users",
            headers={"X-API-Key": tenant.api_key.key},
            json={**body, "name": name},
        )
        for name in ("\u200b", "\u200b \u200d", "\u3164", "\ufeff\u2060")
    ]

    assert [response.status_code for response in refused] == [422] * 4
    for response in refused:
        assert "name" in response.json()["detail"]
        assert "invisible" in response.json()["detail"]


async def test_rotation_keeps_old_tokens_until_retired(apps, tenant) -> None:
    ingest_client, _ = apps
    email = await new_user(ingest_client, tenant)
    old_token = (await log_in(ingest_client, email)).json()["access_token"]
    settings = IngestSettings()
    engine = create_engine(settings.database_url, pool_size=1)
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():
            new_key, retiring = await rotate_signing_key(
                session, settings, now=datetime.now(UTC)
            )
        new_token = (await log_in(ingest_client, email)).json()["access_token"]
        jwks = (await ingest_client.get("/.well-known/jwks.json")).json()
        old_still = await ingest_client.get("/campaigns", headers=bearer(old_token))
        async with sessions() as session, session.begin():
            await session.execute(
                update(common.signing_keys)
                .where(common.signing_keys.c.kid.in_(retiring))
                .values(retired_at=datetime.now(UTC))
            )
        old_after = await ingest_client.get("/campaigns", headers=bearer(old_token))
        new_after = await ingest_client.get("/campaigns", headers=bearer(new_token))
    finally:
        await engine.dispose()

    assert new_key.kid in {key["kid"] for key in jwks["keys"]}
    assert retiring
    assert old_still.status_code == 200
    assert old_after.status_code == 401
    assert new_after.status_code == 200


async def test_agent_token_not_a_tenant_caller(apps) -> None:
    ingest_client, _ = apps
    secret = VisitsSettings().agent_token_secret.get_secret_value()
    token = issue_agent_token(uuid.uuid4(), secret=secret)

    response = await ingest_client.get("/campaigns", headers=bearer(token))

    assert response.status_code == 401


async def test_login_attempts_limited(apps, tenant) -> None:
    ingest_client, _ = apps
    email = await new_user(ingest_client, tenant)

    statuses = [
        (
            await ingest_client.post(
                "/auth/login", json={"email": email, "password": "guess " * 3}
            )
        ).status_code
        for _ in range(8)
    ]

    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429] * 3


async def test_lockout_holds_one_address_only(service_env) -> None:
    app = ingest.app.create_app()
    async with running_app(app) as stranger:
        owner = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("10.1.2.3", 40000)),
            base_url="http://testserver",
        )
        tenant = await make_tenant()
        email = await new_user(stranger, tenant)
        wrong = {"email": email, "password": "guess " * 3}
        for _ in range(5):
            await stranger.post("/auth/login", json=wrong)

        locked = await stranger.post("/auth/login", json=wrong)
        locked_right = await log_in(stranger, email)
        from_owner = await log_in(owner, email)
        other_email = await stranger.post(
            "/auth/login", json={"email": "b" + email, "password": PASSWORD}
        )
        await owner.aclose()

    assert locked.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 30
    assert email not in locked.text
    assert locked_right.status_code == 429
    assert from_owner.status_code == 200
    assert other_email.status_code == 401


async def test_role_beyond_caller_scopes_forbidden(apps, tenant) -> None:
    ingest_client, _ = apps
    admin = {"X-API-Key": tenant.api_key.key}
    scopes = ["users:manage", *sorted(ROLE_SCOPES[Role.ANALYST])]
    narrow = await ingest_client.post(
        "/api-keys", headers=admin, json={"scopes": scopes}
    )
    headers = {"X-API-Key": narrow.json()["key"]}
    email = f"persona-{uuid.uuid4().hex[:8]}@financiera.mx"
    body = {"email": email, "name": "Ana", "role": "tenant_admin", "password": PASSWORD}

    created = await ingest_client.post("/users", headers=headers, json=body)
    analyst = await ingest_client.post(
        "/users",
        headers=headers,
        json={**body, "email": "b" + email, "role": "analyst"},
    )
    promoted = await ingest_client.patch(
        f"/users/{analyst.json()['user_id']}",
        headers=headers,
        json={"role": "tenant_admin"},
    )
    login = await log_in(ingest_client, "b" + email)

    assert created.status_code == 403
    assert "audit:read" in created.json()["missing_scopes"]
    assert analyst.status_code == 201
    assert promoted.status_code == 403
    assert login.status_code == 200
    assert login.json()["role"] == "analyst"


async def test_wider_user_left_alone(apps, tenant) -> None:
    ingest_client, _ = apps
    admin_email = await new_user(ingest_client, tenant, role="tenant_admin")
    admin_id = (await log_in(ingest_client, admin_email)).json()["user_id"]
    scopes = ["users:manage", *sorted(ROLE_SCOPES[Role.ANALYST])]
    narrow = await ingest_client.post(
        "/api-keys", headers={"X-API-Key": tenant.api_key.key}, json={"scopes": scopes}
    )
    headers = {"X-API-Key": narrow.json()["key"]}

    demoted = await ingest_client.patch(
        f"/users/{admin_id}", headers=headers, json={"role": "analyst"}
    )
    disabled = await ingest_client.patch(
        f"/users/{admin_id}", headers=headers, json={"disabled": True}
    )
    login = await log_in(ingest_client, admin_email)

    assert demoted.status_code == 403
    assert disabled.status_code == 403
    assert login.json()["role"] == "tenant_admin"
