from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from fastapi import FastAPI

from ingest.tenants import CreatedTenant
from reporting.app import create_app
from tests.conftest import IsolatedEnvironment
from tests.fixtures.apps import running_app
from tests.integration.reporting.helpers import provision_tenant


@pytest_asyncio.fixture
async def reporting_app(service_env: IsolatedEnvironment) -> FastAPI:
    return create_app()


@pytest_asyncio.fixture
async def reporting(reporting_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The reporting app with its consumer and delivery worker running."""
    async with running_app(reporting_app) as client:
        yield client


@pytest_asyncio.fixture
async def tenant(reporting: httpx.AsyncClient) -> CreatedTenant:
    return await provision_tenant(reporting)
