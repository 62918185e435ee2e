"""Operator commands of the matching service.

`campo-matching migrate` applies the schema migrations; `agents register`
and `agents import` register agents and print their access tokens as JSON;
`agents verify`, `agents suspend` and `agents reinstate` record the
operator's decisions on an agent.

Migrations run as the login role, which owns the schema. Every other
command runs as `campo_operator`, because a suspension withdraws offers and
releases assignments of every tenant, which row-level security hides from
the app role. Each of those commands leaves an audit record naming
`--operator` (by default the OS user), as `campo-admin` does.
"""

import argparse
import asyncio
import json
import sys
import uuid
from pathlib import Path

import structlog
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from matching.agents import AgentSpec, register_agent, set_operator_status
from matching.models import AgentStatus, TravelMode
from matching.models import common as matching_tables
from matching.release import Suspension, outbox_emit, suspend_agent
from matching.settings import MatchingSettings
from shared.db import create_engine, create_sessionmaker
from shared.migrations import upgrade
from shared.operator_audit import add_operator_option, record_command
from shared.rls import OPERATOR_ROLE

AGENT_SPECS = TypeAdapter(list[AgentSpec])

# A reinstated agent comes back offline and goes online from the app.
OPERATOR_DECISIONS: dict[str, dict[str, object]] = {
    "verify": {"verified": True},
    "suspend": {"status": AgentStatus.SUSPENDED},
    "reinstate": {"status": AgentStatus.OFFLINE},
}


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    # stdout carries the JSON output alone, so log lines go to stderr.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    settings = MatchingSettings()
    if args.command == "migrate":
        upgrade(settings.database_url, "matching")
        return
    if args.agents_command == "suspend":
        suspension = asyncio.run(_suspend(args.agent_id, settings))
        if suspension is None:
            sys.exit(f"campo-matching: agent {args.agent_id} not found")
        report = suspension_report(args.agent_id, suspension)
        asyncio.run(_record_alone(settings, args, _suspension_ids(report)))
        print(json.dumps(report, indent=2))
        return
    if args.agents_command in OPERATOR_DECISIONS:
        found = asyncio.run(
            _decide(
                args.agent_id, OPERATOR_DECISIONS[args.agents_command], settings, args
            )
        )
        if not found:
            sys.exit(f"campo-matching: agent {args.agent_id} not found")
        return
    try:
        specs = _specs_from_args(args)
    except (ValidationError, OSError, ValueError) as error:
        sys.exit(f"campo-matching: {error}")
    registered = asyncio.run(_register(specs, settings, args))
    if args.agents_command == "register":
        agent = registered[0]
        print(json.dumps({"agent_id": agent["agent_id"], "token": agent["token"]}))
    else:
        print(json.dumps(registered, indent=2))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="campo-matching")
    add_operator_option(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the matching schema migrations")
    agents = commands.add_parser("agents", help="register field agents")
    agent_commands = agents.add_subparsers(dest="agents_command", required=True)

    register = agent_commands.add_parser(
        "register", help="register one agent and print its id and token as JSON"
    )
    register.add_argument("--name", required=True)
    register.add_argument("--phone", required=True, help="E.164, e.g. +525512345678")
    register.add_argument("--lat", type=float, required=True, help="base latitude")
    register.add_argument("--lon", type=float, required=True, help="base longitude")
    register.add_argument(
        "--radius-m", type=int, default=5000, help="coverage radius in meters"
    )
    register.add_argument(
        "--capacity", type=int, default=8, help="maximum visits a day"
    )
    register.add_argument(
        "--travel-mode",
        choices=[mode.value for mode in TravelMode],
        default=TravelMode.MOTORCYCLE.value,
    )

    import_ = agent_commands.add_parser(
        "import",
        help=(
            "register every agent of a JSON list of agent specs in one "
            "transaction and print [{agent_id, name, token}, ...]"
        ),
    )
    import_.add_argument("file", type=Path, help="JSON file: a list of agent specs")

    helps = {
        "verify": "record that the agent's identity was checked",
        "suspend": "stop offers to the agent until it is reinstated",
        "reinstate": "lift a suspension; the agent comes back offline",
    }
    for name, text in helps.items():
        decision = agent_commands.add_parser(name, help=text)
        decision.add_argument("agent_id", type=uuid.UUID)
    return parser


def _command(args: argparse.Namespace) -> str:
    return f"campo-matching agent {args.agents_command}"


async def _record(
    session: AsyncSession,
    settings: MatchingSettings,
    args: argparse.Namespace,
    target_ids: list[object],
) -> None:
    await record_command(
        session,
        matching_tables,
        settings,
        operator=args.operator,
        command=_command(args),
        target_ids=target_ids,
    )


async def _record_alone(
    settings: MatchingSettings, args: argparse.Namespace, target_ids: list[object]
) -> None:
    """Audit a command whose writes committed in transactions of their own."""
    engine = create_engine(settings.database_url, pool_size=1, role=OPERATOR_ROLE)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await _record(session, settings, args, target_ids)
    finally:
        await engine.dispose()


async def _decide(
    agent_id: uuid.UUID,
    values: dict[str, object],
    settings: MatchingSettings,
    args: argparse.Namespace,
) -> bool:
    engine = create_engine(settings.database_url, pool_size=1, role=OPERATOR_ROLE)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            found = await set_operator_status(session, agent_id, **values)  # type: ignore[arg-type]
            if found:
                await _record(session, settings, args, [agent_id])
            return found
    finally:
        await engine.dispose()


async def _suspend(
    agent_id: uuid.UUID, settings: MatchingSettings
) -> Suspension | None:
    engine = create_engine(settings.database_url, pool_size=1, role=OPERATOR_ROLE)
    try:
        return await suspend_agent(
            create_sessionmaker(engine),
            agent_id,
            emit=outbox_emit(settings),
            settings=settings,
        )
    finally:
        await engine.dispose()


def suspension_report(agent_id: uuid.UUID, suspension: Suspension) -> dict[str, object]:
    """Describe a suspension for the operator, with the visits it touched."""
    checked_in = suspension.assignments_kept_checked_in
    return {
        "agent_id": str(agent_id),
        "suspend": True,
        "offers_withdrawn": [str(v) for v in suspension.offers_withdrawn],
        "assignments_released": [str(v) for v in suspension.assignments_released],
        "assignments_kept_checked_in": [str(v) for v in checked_in],
        "note": (
            f"{len(checked_in)} visit(s) stay with the agent, who has checked "
            "in there. They end with the agent's result or the visit's deadline"
            if checked_in
            else "the agent holds no visit any more"
        ),
    }


def _suspension_ids(report: dict[str, object]) -> list[object]:
    """Return the agent and the visits a suspension touched, for the audit."""
    visits = [
        visit
        for name in ("offers_withdrawn", "assignments_released")
        for visit in report[name]  # type: ignore[attr-defined]
    ]
    return [report["agent_id"], *visits]


def _specs_from_args(args: argparse.Namespace) -> list[AgentSpec]:
    if args.agents_command == "register":
        return [
            AgentSpec(
                name=args.name,
                phone=args.phone,
                lat=args.lat,
                lon=args.lon,
                coverage_radius_m=args.radius_m,
                daily_capacity=args.capacity,
                travel_mode=args.travel_mode,
            )
        ]
    return AGENT_SPECS.validate_json(args.file.read_bytes())


async def _register(
    specs: list[AgentSpec], settings: MatchingSettings, args: argparse.Namespace
) -> list[dict[str, str]]:
    engine = create_engine(settings.database_url, pool_size=1, role=OPERATOR_ROLE)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            registered = [
                (spec, await register_agent(session, spec, settings=settings))
                for spec in specs
            ]
            agent_ids = [agent.agent_id for _, agent in registered]
            await _record(session, settings, args, agent_ids)
    finally:
        await engine.dispose()
    return [
        {"agent_id": str(agent.agent_id), "name": spec.name, "token": agent.token}
        for spec, agent in registered
    ]


if __name__ == "__main__":
    main()
