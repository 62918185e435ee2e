"""Schemathesis against the four services, as real processes on loopback.

Each operation of each OpenAPI document gets generated requests, once with a
tenant's administrator key and an agent's token, once with no credentials.
No answer may be a 5xx, and every answer must match the schema the document
gives for its status code.
"""

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from matching.agents import AgentSpec, register_agent
from matching.settings import MatchingSettings
from ops.processes import ServiceProcess, free_port, start_services, stop_services
from shared.db import create_engine, create_sessionmaker
from tests.conftest import IsolatedEnvironment
from tests.fixtures.tenants import make_tenant
from tests.integration.shared.test_permissions import _apps

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# Generated requests per operation and credential set; the suite's time
# budget, not a property of the services.
EXAMPLES = 6
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
SCHEMAS = {
    name: schemathesis.openapi.from_dict(app.openapi())  # type: ignore[attr-defined]
    for name, app in _apps().items()
}
# With valid credentials the live stream never ends, so it cannot be read to
# the end; it is fuzzed without credentials, and its resume logic has tests
# of its own.
STREAMS = "/stream"
CALLS: Counter[str] = Counter()


async def _agent_token() -> str:
    settings_ = MatchingSettings()
    engine = create_engine(settings_.database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            spec = AgentSpec(
                name="Agente Fuzz",
                phone="+525510009999",
                lat=19.43,
                lon=-99.13,
                coverage_radius_m=5_000,
                daily_capacity=5,
            )
            return (await register_agent(session, spec, settings=settings_)).token
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def services(
    service_env: IsolatedEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    env = {**service_env.as_env(), "REPORTING_WEBHOOK_ALLOW_LOOPBACK": "true"}
    ports = {name: free_port() for name in SCHEMAS}
    log_dir = Path(tmp_path_factory.mktemp("fuzz-logs"))
    running = start_services(log_dir, env, ports)
    yield running
    stop_services(running)
    print(f"\nschemathesis calls: {dict(CALLS)}")


@pytest.fixture(scope="module")
def credentials(services: dict[str, ServiceProcess]) -> dict[str, str]:
    tenant = asyncio.run(make_tenant())
    token = asyncio.run(_agent_token())
    return {"X-API-Key": tenant.api_key.key, "Authorization": f"Bearer {token}"}


def _one_credential(case: schemathesis.Case, headers: dict[str, str]) -> dict[str, str]:
    """Send the API key to tenant operations and the agent's token to the rest.

    A request with two credentials is refused, so each call carries one.
    """
    if not headers:
        return headers
    security = case.operation.definition.raw.get("security") or []
    if any("APIKeyHeader" in requirement for requirement in security):
        return {"X-API-Key": headers["X-API-Key"]}
    return {"Authorization": headers["Authorization"]}


def _call(
    service: str, case: schemathesis.Case, services: dict, headers: dict[str, str]
) -> None:
    CALLS[service] += 1
    case.call_and_validate(
        base_url=f"http://127.0.0.1:{services[service].port}",
        headers=_one_credential(case, headers),
        checks=CHECKS,
        timeout=30,
    )


@SCHEMAS["ingest"].parametrize()
@FUZZ
def test_ingest(case, services, credentials) -> None:
    _call("ingest", case, services, credentials)


@SCHEMAS["ingest"].parametrize()
@FUZZ
def test_ingest_anonymous(case, services) -> None:
    _call("ingest", case, services, {})


@SCHEMAS["matching"].parametrize()
@FUZZ
def test_matching(case, services, credentials) -> None:
    _call("matching", case, services, credentials)


@SCHEMAS["matching"].parametrize()
@FUZZ
def test_matching_anonymous(case, services) -> None:
    _call("matching", case, services, {})


@SCHEMAS["visits"].parametrize()
@FUZZ
def test_visits(case, services, credentials) -> None:
    _call("visits", case, services, credentials)


@SCHEMAS["visits"].parametrize()
@FUZZ
def test_visits_anonymous(case, services) -> None:
    _call("visits", case, services, {})


@SCHEMAS["reporting"].exclude(path=STREAMS).parametrize()
@FUZZ
def test_reporting(case, services, credentials) -> None:
    _call("reporting", case, services, credentials)


@SCHEMAS["reporting"].parametrize()
@FUZZ
def test_reporting_anonymous(case, services) -> None:
    _call("reporting", case, services, {})
