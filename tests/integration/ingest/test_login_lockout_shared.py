"""The login lockout is shared by every ingest process through the database."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from sqlalchemy import text

import ingest.app
from ingest.settings import IngestSettings
from ingest.tenants import CreatedTenant
from ingest.users.lockout import FAILURES_TO_LOCK
from shared.db import create_engine
from tests.conftest import IsolatedEnvironment
from tests.fixtures.apps import running_app
from tests.fixtures.tenants import make_tenant

PASSWORD = "caballo correcto batería"


@pytest_asyncio.fixture(scope="module")
async def two_apps(
    service_env: IsolatedEnvironment,
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two ingest apps, as two replicas: nothing shared but the database."""
    async with (
        running_app(ingest.app.create_app()) as first,
        running_app(ingest.app.create_app()) as second,
    ):
        yield first, second


@pytest_asyncio.fixture(scope="module")
async def tenant(two_apps) -> CreatedTenant:
    return await make_tenant()


async def new_user(client: httpx.AsyncClient, tenant: CreatedTenant) -> str:
    email = f"persona-{uuid.uuid4().hex[:8]}@financiera.mx"
    response = await client.post(
        "/users",
        headers={"X-API-Key": tenant.api_key.key},
        json={
            "email": email,
            "name": "Ana Torres",
            "role": "director",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 201, response.text
    return email


def wrong(email: str) -> dict[str, str]:
    return {"email": email, "password": "guess " * 3}


async def test_failures_on_two_processes_add_up(two_apps, tenant) -> None:
    first, second = two_apps
    email = await new_user(first, tenant)

    statuses = []
    for attempt in range(FAILURES_TO_LOCK):
        client = first if attempt % 2 == 0 else second
        statuses.append(
            (await client.post("/auth/login", json=wrong(email))).status_code
        )
    on_first = await first.post(
        "/auth/login", json={"email": email, "password": PASSWORD}
    )
    on_second = await second.post("/auth/login", json=wrong(email))

    assert statuses == [401] * FAILURES_TO_LOCK
    assert on_first.status_code == 429
    assert 1 <= int(on_first.headers["Retry-After"]) <= 30
    assert on_second.status_code == 429


async def test_concurrent_failures_are_all_counted(two_apps, tenant) -> None:
    first, second = two_apps
    email = await new_user(first, tenant)

    answers = await asyncio.gather(
        *(
            (first if n % 2 else second).post("/auth/login", json=wrong(email))
            for n in range(FAILURES_TO_LOCK)
        )
    )
    after = await second.post(
        "/auth/login", json={"email": email, "password": PASSWORD}
    )

    assert sorted(a.status_code for a in answers) == [401] * FAILURES_TO_LOCK
    assert after.status_code == 429


async def test_burst_checks_at_most_the_limit(two_apps, tenant) -> None:
    # Each try is counted before its password is checked, so a burst sent
    # at once cannot have more than FAILURES_TO_LOCK passwords checked.
    first, second = two_apps
    email = await new_user(first, tenant)

    answers = await asyncio.gather(
        *(
            (first if n % 2 else second).post("/auth/login", json=wrong(email))
            for n in range(4 * FAILURES_TO_LOCK)
        )
    )

    codes = sorted(a.status_code for a in answers)
    assert codes.count(401) == FAILURES_TO_LOCK
    assert codes.count(429) == 3 * FAILURES_TO_LOCK


async def test_lock_survives_a_restart(two_apps, tenant) -> None:
    first, _ = two_apps
    email = await new_user(first, tenant)
    for _ in range(FAILURES_TO_LOCK):
        await first.post("/auth/login", json=wrong(email))

    async with running_app(ingest.app.create_app()) as restarted:
        answer = await restarted.post(
            "/auth/login", json={"email": email, "password": PASSWORD}
        )

    assert answer.status_code == 429


async def test_success_clears_the_pair_for_every_process(two_apps, tenant) -> None:
    first, second = two_apps
    email = await new_user(first, tenant)
    for _ in range(FAILURES_TO_LOCK - 1):
        await first.post("/auth/login", json=wrong(email))

    good = await second.post("/auth/login", json={"email": email, "password": PASSWORD})
    again = [
        (await first.post("/auth/login", json=wrong(email))).status_code
        for _ in range(FAILURES_TO_LOCK - 1)
    ]

    assert good.status_code == 200
    assert again == [401] * (FAILURES_TO_LOCK - 1)


async def test_table_holds_no_email(two_apps, tenant) -> None:
    first, _ = two_apps
    email = await new_user(first, tenant)
    await first.post("/auth/login", json=wrong(email))

    engine = create_engine(IngestSettings().database_url, pool_size=1)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(text("SELECT * FROM ingest.login_failures"))
        ).all()
    await engine.dispose()

    assert rows
    assert email not in repr(rows)
    assert email.split("@")[0] not in repr(rows)
