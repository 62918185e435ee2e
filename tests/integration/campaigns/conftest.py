from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import ingest.app
import matching.app
import visits.app
from ingest.settings import IngestSettings
from matching.settings import MatchingSettings
from shared.db import create_engine, create_sessionmaker
from tests.conftest import IsolatedEnvironment
from tests.fixtures.apps import running_app
from tests.integration.campaigns.helpers import Services


@pytest_asyncio.fixture(scope="package")
async def sessionmaker(
    service_env: IsolatedEnvironment,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """One engine for the whole database: each model names its service's schema."""
    engine = create_engine(IngestSettings().database_url, pool_size=5)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest_asyncio.fixture(scope="package")
async def services(service_env: IsolatedEnvironment) -> AsyncIterator[Services]:
    """Ingest, matching and visits in process, with their consumers and loops."""
    async with (
        running_app(
            # Each flow's region lies in the Pacific, away from other tests.
            ingest.app.create_app(
                IngestSettings(revisit_poll_seconds=0.2, foreign_coordinates="keep")
            )
        ) as ingest_client,
        running_app(
            matching.app.create_app(MatchingSettings(pending_retry_seconds=0.5))
        ) as matching_client,
        running_app(visits.app.create_app()) as visits_client,
    ):
        yield Services(ingest_client, matching_client, visits_client)
