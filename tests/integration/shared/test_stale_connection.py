"""A pooled connection the server closed, with the pool's pre-ping off.

The request that meets it gets a 503 problem asking for a retry, not a
500, and the retry runs on a fresh connection.
"""

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from shared.errors import install_error_handlers
from shared.settings import ServiceSettings
from tests.conftest import IsolatedEnvironment


@pytest_asyncio.fixture
async def engine(service_env: IsolatedEnvironment) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(ServiceSettings().database_url, pool_size=1)
    yield engine
    await engine.dispose()


def backend_app(engine: AsyncEngine) -> FastAPI:
    """Build an app whose one route returns its connection's backend pid."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/pid")
    async def pid() -> int:
        async with engine.connect() as connection:
            return int(await connection.scalar(text("SELECT pg_backend_pid()")))

    return app


async def terminate(backend_pid: int) -> None:
    other = create_engine(ServiceSettings().database_url, pool_size=1)
    try:
        async with other.connect() as connection:
            await connection.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": backend_pid}
            )
    finally:
        await other.dispose()


def test_pre_ping_is_off_by_default(service_env: IsolatedEnvironment) -> None:
    assert ServiceSettings().database_pool_pre_ping is False


@pytest.mark.asyncio
async def test_closed_connection_returns_503_then_recovers(
    engine: AsyncEngine,
) -> None:
    transport = httpx.ASGITransport(app=backend_app(engine))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver"
    ) as client:
        first = await client.get("/pid")
        assert first.status_code == 200
        await terminate(first.json())

        lost = await client.get("/pid")
        retried = await client.get("/pid")

    assert lost.status_code == 503
    assert lost.headers["content-type"] == "application/problem+json"
    assert lost.json()["type"].endswith("/database-unavailable")
    assert lost.headers["retry-after"] == "1"
    assert retried.status_code == 200
    assert retried.json() != first.json()
