"""Checks of docker-compose.yml that need no Docker engine.

The Python docker-compose 1.x tool (Debian package docker-compose) parses and
validates the file offline, and `docker-compose config` prints it with the
YAML anchors and merge keys resolved, which is the form checked here.
"""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"

# Default port and ASGI application factory of each service.
SERVICES = {
    "ingest": ("ingest.app:create_app", 8001),
    "matching": ("matching.app:create_app", 8002),
    "visits": ("visits.app:create_app", 8003),
    "reporting": ("reporting.app:create_app", 8004),
}
# Processes of a service that serve no port.
WORKERS = {"reporting-deliver": ["campo-reporting", "deliver"]}
EXPECTED_SERVICE_NAMES = {"postgres", "kafka", "migrate", *SERVICES, *WORKERS}
EXPECTED_DATABASE_URL = "postgresql+asyncpg://campo:campo@postgres:5432/campo"
EXPECTED_KAFKA_BOOTSTRAP_SERVERS = "kafka:9092"

DOCKER_COMPOSE = shutil.which("docker-compose")

pytestmark = pytest.mark.skipif(
    DOCKER_COMPOSE is None,
    reason="docker-compose not found on PATH: install the Debian package "
    "docker-compose (bash .ci/install-system.sh installs it)",
)


def run_compose(*arguments: str) -> subprocess.CompletedProcess[str]:
    assert DOCKER_COMPOSE is not None
    return subprocess.run(
        [DOCKER_COMPOSE, "--file", str(COMPOSE_FILE), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def published_ports(service: dict[str, Any]) -> list[tuple[int, int]]:
    """Return (published, target) pairs from compose 1.x strings or 2.x mappings."""
    pairs = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            pairs.append((int(entry["published"]), int(entry["target"])))
            continue
        # docker-compose 1.x prints "HOST_IP:PUBLISHED:TARGET/PROTOCOL".
        mapping = str(entry).split("/")[0]
        *_, published, target = mapping.split(":")
        pairs.append((int(published), int(target)))
    return pairs


def depends_on_conditions(service: dict[str, Any]) -> dict[str, str]:
    return {
        name: options.get("condition", "service_started")
        for name, options in service.get("depends_on", {}).items()
    }


@pytest.fixture(scope="module")
def compose_config() -> dict[str, Any]:
    result = run_compose("config")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_config_validates() -> None:
    result = run_compose("config", "-q")

    assert result.returncode == 0, result.stderr


def test_compose_service_names(compose_config: dict[str, Any]) -> None:
    assert set(compose_config["services"]) == EXPECTED_SERVICE_NAMES


@pytest.mark.parametrize(
    ("name", "factory", "port"), [(n, *v) for n, v in SERVICES.items()]
)
def test_compose_service_command_port(
    compose_config: dict[str, Any], name: str, factory: str, port: int
) -> None:
    service = compose_config["services"][name]
    command = service["command"]

    assert command[:2] == ["uvicorn", factory]
    assert "--factory" in command
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == str(port)
    assert published_ports(service) == [(port, port)]


@pytest.mark.parametrize("name", ["migrate", *SERVICES, *WORKERS])
def test_compose_app_image_and_environment(
    compose_config: dict[str, Any], name: str
) -> None:
    service = compose_config["services"][name]
    build = service["build"]
    context = build["context"] if isinstance(build, dict) else build

    assert Path(context).resolve() == ROOT
    assert service["image"] == "campo:local"
    assert service["environment"]["DATABASE_URL"] == EXPECTED_DATABASE_URL
    assert service["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == (
        EXPECTED_KAFKA_BOOTSTRAP_SERVERS
    )


@pytest.mark.parametrize("name", [*SERVICES, *WORKERS])
def test_compose_service_waits_for_migrate(
    compose_config: dict[str, Any], name: str
) -> None:
    conditions = depends_on_conditions(compose_config["services"][name])

    assert conditions["migrate"] == "service_completed_successfully"
    assert conditions["postgres"] == "service_healthy"
    assert conditions["kafka"] == "service_healthy"


def test_compose_sender_runs_apart(
    compose_config: dict[str, Any],
) -> None:
    """reporting-deliver sends the webhooks, and the API process does not."""
    services = compose_config["services"]

    assert services["reporting-deliver"]["command"] == WORKERS["reporting-deliver"]
    assert "ports" not in services["reporting-deliver"]
    environment = services["reporting"]["environment"]
    assert environment["REPORTING_DELIVERY_IN_PROCESS"] == "false"
    sender_environment = services["reporting-deliver"]["environment"]
    assert "REPORTING_DELIVERY_IN_PROCESS" not in sender_environment
    assert services["reporting-deliver"]["restart"] == "unless-stopped"


def test_compose_migrate_job(compose_config: dict[str, Any]) -> None:
    migrate = compose_config["services"]["migrate"]

    assert migrate["command"] == ["bash", "deploy/migrate.sh"]
    assert str(migrate.get("restart", "no")) == "no"
    assert depends_on_conditions(migrate)["postgres"] == "service_healthy"


def test_compose_postgres_image(compose_config: dict[str, Any]) -> None:
    postgres = compose_config["services"]["postgres"]

    assert postgres["image"] == "postgis/postgis:15-3.4"
    assert postgres["environment"]["POSTGRES_USER"] == "campo"
    assert postgres["environment"]["POSTGRES_PASSWORD"] == "campo"
    assert postgres["environment"]["POSTGRES_DB"] == "campo"
    assert published_ports(postgres) == [(55432, 5432)]


def test_compose_kafka_kraft_single_node(compose_config: dict[str, Any]) -> None:
    kafka = compose_config["services"]["kafka"]
    environment = kafka["environment"]

    assert kafka["image"] == "apache/kafka:4.1.1"
    assert environment["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert str(environment["KAFKA_NODE_ID"]) == "1"
    assert environment["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert "PLAINTEXT://kafka:9092" in environment["KAFKA_ADVERTISED_LISTENERS"]
    assert str(environment["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == "1"
    assert published_ports(kafka) == [(59092, 59092)]
