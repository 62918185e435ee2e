"""Session fixtures: real PostgreSQL and Kafka, a fresh database and topic prefix.

Integration tests request `service_env`. It starts the local servers when
DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS are not set. It then creates a
database with every service's migrations applied and picks a topic prefix,
both new for the session, so runs never see each other's data or events.
"""

import asyncio
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from shared.kafka import delete_topics
from shared.migrations import upgrade

ROOT = Path(__file__).resolve().parents[1]
SERVICE_PACKAGES = ("ingest", "matching", "visits", "reporting")


@dataclass(frozen=True)
class Infra:
    database_url: str
    kafka_bootstrap_servers: str


@dataclass(frozen=True)
class IsolatedEnvironment:
    database_url: str
    kafka_bootstrap_servers: str
    topic_prefix: str

    def as_env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "KAFKA_TOPIC_PREFIX": self.topic_prefix,
            "CAMPO_ENVIRONMENT": "test",
            # Tests run at any hour, and the test addresses lie in the
            # Pacific, so matching and visits skip the visiting-hours rule
            # for them.
            # The rule's own tests turn it on and set the clock.
            "MATCHING_VISITING_HOURS": "false",
            "VISITS_VISITING_HOURS": "false",
            # Each visit is dispatched on arrival, as the tests of dispatch
            # expect. The batch tests turn batching on in their own settings.
            "MATCHING_BATCH_INTERVAL_SECONDS": "0",
            # One tenant's key serves a whole test package, faster than any
            # integrator would call. The rate-limit tests set their own.
            "RATE_LIMIT_API_KEY_PER_MINUTE": "0",
            "RATE_LIMIT_AGENT_PER_MINUTE": "0",
        }


def _infra_from_scripts() -> Infra:
    subprocess.run(["bash", str(ROOT / "deploy/local/infra.sh"), "up"], check=True)
    output = subprocess.run(
        ["bash", str(ROOT / "deploy/local/infra.sh"), "env"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    values = {}
    for line in output.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        values[name.strip()] = value.strip().strip("'\"")
    return Infra(values["DATABASE_URL"], values["KAFKA_BOOTSTRAP_SERVERS"])


@pytest.fixture(scope="session")
def infra() -> Infra:
    if os.environ.get("DATABASE_URL") and os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return Infra(os.environ["DATABASE_URL"], os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    return _infra_from_scripts()


def _plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


async def _create_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(_plain_dsn(admin_url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    database = await asyncpg.connect(_plain_dsn(_with_database(admin_url, name)))
    try:
        await database.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    finally:
        await database.close()


async def _drop_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(_plain_dsn(admin_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def test_environment(infra: Infra) -> Iterator[IsolatedEnvironment]:
    run_id = uuid.uuid4().hex[:10]
    name = f"campo_test_{run_id}"
    asyncio.run(_create_database(infra.database_url, name))
    database_url = _with_database(infra.database_url, name)
    for package in SERVICE_PACKAGES:
        upgrade(database_url, package)
    yield IsolatedEnvironment(
        database_url=database_url,
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        topic_prefix=f"test-{run_id}.",
    )
    if not os.environ.get("CAMPO_KEEP_TEST_DATABASE"):
        asyncio.run(_drop_database(infra.database_url, name))
        asyncio.run(delete_topics(infra.kafka_bootstrap_servers, f"test-{run_id}."))


@pytest.fixture(scope="session")
def service_env(test_environment: IsolatedEnvironment) -> Iterator[IsolatedEnvironment]:
    """Point every settings class created in the tests at the test servers."""
    saved = {name: os.environ.get(name) for name in test_environment.as_env()}
    os.environ.update(test_environment.as_env())
    yield test_environment
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
