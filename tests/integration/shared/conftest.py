"""Database fixtures of the row-level security tests."""

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import create_engine, create_sessionmaker
from shared.rls import APP_ROLE
from shared.settings import ServiceSettings


@pytest_asyncio.fixture(scope="module")
async def owner_engine() -> AsyncIterator[AsyncEngine]:
    """An engine that logs in as the tables' owner, to seed and to check rows."""
    engine = create_engine(ServiceSettings().database_url, pool_size=1)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(scope="module")
async def app_sessions() -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions as a service opens them: the login role switched to campo_app."""
    engine = create_engine(ServiceSettings().database_url, pool_size=2, role=APP_ROLE)
    yield create_sessionmaker(engine)
    await engine.dispose()
