from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import ingest.app
from ingest.tenants import CreatedTenant
from shared.db import create_engine, create_sessionmaker
from tests.conftest import IsolatedEnvironment
from tests.fixtures.apps import eventually, running_app
from tests.fixtures.tenants import make_tenant
from tests.integration.visits.helpers import assigned_visit, tenant_headers
from visits.app import create_app
from visits.settings import VisitsSettings


@pytest_asyncio.fixture(scope="package")
async def sessionmaker(
    service_env: IsolatedEnvironment,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(VisitsSettings().database_url, pool_size=5)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest_asyncio.fixture(scope="package")
async def visits(service_env: IsolatedEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    """The visits app with its consumers joined, and ingest to publish tenants."""
    async with (
        running_app(ingest.app.create_app()),
        running_app(create_app()) as client,
    ):
        # Both visit consumers have joined once a warm-up visit is assigned.
        await assigned_visit(client)
        yield client


async def _tenant_known(client: httpx.AsyncClient) -> CreatedTenant:
    tenant = await make_tenant()
    headers = tenant_headers(tenant)

    async def accepted() -> bool:
        response = await client.get("/visits", headers=headers)
        return response.status_code == 200

    await eventually(accepted, message=f"API key of tenant {tenant.tenant_id}")
    return tenant


@pytest_asyncio.fixture(scope="package")
async def tenant(visits: httpx.AsyncClient) -> CreatedTenant:
    return await _tenant_known(visits)


@pytest_asyncio.fixture(scope="package")
async def other_tenant(visits: httpx.AsyncClient) -> CreatedTenant:
    return await _tenant_known(visits)
