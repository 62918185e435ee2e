from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching.app import create_app
from matching.dispatch import Emit
from matching.models import common
from matching.settings import MatchingSettings
from shared.db import create_engine, create_sessionmaker
from shared.events import Payload
from shared.outbox import add_event
from tests.conftest import IsolatedEnvironment
from tests.fixtures.apps import running_app
from tests.integration.matching.helpers import Region, new_region

PENDING_RETRY_SECONDS = 0.5
OFFER_EXPIRY_INTERVAL_SECONDS = 0.3


@pytest_asyncio.fixture(scope="module")
async def sessionmaker(
    service_env: IsolatedEnvironment,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(MatchingSettings().database_url, pool_size=5)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest_asyncio.fixture(scope="module")
async def matching(
    service_env: IsolatedEnvironment,
) -> AsyncIterator[httpx.AsyncClient]:
    """The matching app with its consumers, relay, and fast retry and expiry."""
    settings = MatchingSettings(
        pending_retry_seconds=PENDING_RETRY_SECONDS,
        offer_expiry_interval_seconds=OFFER_EXPIRY_INTERVAL_SECONDS,
    )
    async with running_app(create_app(settings)) as client:
        yield client


@pytest.fixture
def region() -> Region:
    return new_region()


@pytest.fixture
def emit() -> Emit:
    """Write events to matching's outbox, as the running service does."""
    settings = MatchingSettings()

    async def write(session: AsyncSession, payload: Payload) -> object:
        return await add_event(
            session, common, payload, source="/matching", settings=settings
        )

    return write
