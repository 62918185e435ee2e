import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching.models import Agent
from shared.auth import verify_agent_token
from shared.settings import ServiceSettings
from tests.integration.matching.helpers import new_region

Sessionmaker = async_sessionmaker[AsyncSession]


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "matching.cli", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )


def _secret() -> str:
    return ServiceSettings().agent_token_secret.get_secret_value()


async def _agents_named(sessionmaker: Sessionmaker, names: list[str]) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(Agent).where(Agent.name.in_(names))
        )
    return count or 0


class TestAgentsCommand:
    async def test_register_prints_id_and_token(
        self, sessionmaker: Sessionmaker
    ) -> None:
        where = new_region().point()
        name = f"CLI agent {uuid.uuid4().hex[:6]}"

        result = _run_cli(
            "agents", "register", "--name", name, "--phone", "+525511112222",
            "--lat", str(where.lat), "--lon", str(where.lon),
            "--radius-m", "3000", "--capacity", "4",
        )  # fmt: skip

        assert result.returncode == 0, result.stderr
        printed = json.loads(result.stdout)
        assert set(printed) == {"agent_id", "token"}
        agent = verify_agent_token(printed["token"], secret=_secret())
        assert str(agent.agent_id) == printed["agent_id"]
        async with sessionmaker() as session:
            stored = await session.get(Agent, agent.agent_id)
        assert stored is not None
        assert stored.coverage_radius_m == 3000
        assert stored.daily_capacity == 4

    async def test_import_registers_every_agent(
        self, sessionmaker: Sessionmaker, tmp_path: Path
    ) -> None:
        region = new_region()
        names = [f"Imported {uuid.uuid4().hex[:6]}" for _ in range(60)]
        specs = [
            {
                "name": name,
                "phone": f"+5255{i:08d}",
                "lat": region.point(north_m=i * 100).lat,
                "lon": region.lon,
                "travel_mode": "bicycle",
            }
            for i, name in enumerate(names)
        ]
        path = tmp_path / "agents.json"
        path.write_text(json.dumps(specs))

        result = _run_cli("agents", "import", str(path))

        assert result.returncode == 0, result.stderr
        printed = json.loads(result.stdout)
        assert [item["name"] for item in printed] == names
        for item in printed:
            agent = verify_agent_token(item["token"], secret=_secret())
            assert str(agent.agent_id) == item["agent_id"]
        assert await _agents_named(sessionmaker, names) == 60

    async def test_import_with_invalid_spec_registers_none(
        self, sessionmaker: Sessionmaker, tmp_path: Path
    ) -> None:
        where = new_region().point()
        names = [f"Rejected {uuid.uuid4().hex[:6]}" for _ in range(2)]
        specs = [
            {"name": names[0], "phone": "+525511112222", "lat": where.lat,
             "lon": where.lon},
            {"name": names[1], "phone": "5511112222", "lat": where.lat,
             "lon": where.lon},
        ]  # fmt: skip
        path = tmp_path / "agents.json"
        path.write_text(json.dumps(specs))

        result = _run_cli("agents", "import", str(path))

        assert result.returncode != 0
        assert "'5511112222' is not in E.164 format" in result.stderr
        assert await _agents_named(sessionmaker, names) == 0


async def _audit_records(
    sessionmaker: Sessionmaker, operator: str
) -> list[dict[str, object]]:
    """The command records `operator` left in matching's outbox, oldest first."""
    async with sessionmaker() as session:
        rows = await session.scalars(
            text(
                "SELECT data FROM matching.outbox WHERE event_type = :type"
                " AND data->>'operator' = :operator ORDER BY seq"
            ),
            {"type": "campo.operator.command_run", "operator": operator},
        )
        return list(rows)


def _register(operator: str) -> str:
    where = new_region().point()
    result = _run_cli(
        "--operator", operator, "agents", "register", "--name", "Audited agent",
        "--phone", "+525511112222", "--lat", str(where.lat), "--lon", str(where.lon),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    agent_id: str = json.loads(result.stdout)["agent_id"]
    return agent_id


class TestOperatorAudit:
    async def test_register_and_decisions_recorded(
        self, sessionmaker: Sessionmaker
    ) -> None:
        operator = f"ops-{uuid.uuid4().hex[:6]}"
        agent_id = _register(operator)

        verified = _run_cli("--operator", operator, "agents", "verify", agent_id)
        suspended = _run_cli("--operator", operator, "agents", "suspend", agent_id)

        assert verified.returncode == 0, verified.stderr
        assert suspended.returncode == 0, suspended.stderr
        records = await _audit_records(sessionmaker, operator)
        assert [record["command"] for record in records] == [
            "campo-matching agent register",
            "campo-matching agent verify",
            "campo-matching agent suspend",
        ]
        for record in records:
            assert record["target_ids"][0] == agent_id  # type: ignore[index]

    async def test_unknown_agent_leaves_no_record(
        self, sessionmaker: Sessionmaker
    ) -> None:
        operator = f"ops-{uuid.uuid4().hex[:6]}"

        result = _run_cli("--operator", operator, "agents", "verify", str(uuid.uuid4()))

        assert result.returncode != 0
        assert "not found" in result.stderr
        assert await _audit_records(sessionmaker, operator) == []
