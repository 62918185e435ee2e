"""`campo-admin`: the platform operator's command line.

It writes through each service's own code into that service's schema:
tenants and API keys into ingest (which publishes them, so the other
services learn the key within seconds of ingest running), agents into
matching. Secrets are printed once and never stored in clear.

Every command runs as the database role `campo_operator`, which bypasses
row-level security, and so every command leaves an audit record: who ran it
(`--operator`, by default the OS user), the command, and the tenant and ids
it touched. The record goes on `audit.v1` through the outbox, in the same
transaction as the command's writes, and reporting shows it to the touched
tenant's administrator on `GET /audit`.
"""

import argparse
import asyncio
import json
import os
import secrets
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.models import common as ingest_tables
from ingest.settings import IngestSettings
from ingest.tenants import create_api_key, create_tenant, revoke_api_key
from ingest.users.service import create_user
from ingest.users.signing import rotate_signing_key
from matching.agents import AgentSpec, register_agent, set_operator_status
from matching.cli import OPERATOR_DECISIONS, suspension_report
from matching.models import common as matching_tables
from matching.release import Suspension, outbox_emit, suspend_agent
from matching.settings import MatchingSettings
from shared.db import create_engine, create_sessionmaker
from shared.errors import AppError
from shared.events.payloads import PLATFORM_TENANT_ID, OperatorCommandRun
from shared.migrations import upgrade
from shared.operator_audit import default_operator
from shared.outbox import add_event
from shared.permissions import (
    ALL_SCOPES,
    DEFAULT_KEY_SCOPES,
    Role,
    Scope,
    parse_scopes,
    stored_scopes,
)
from shared.rls import OPERATOR_ROLE
from shared.settings import ServiceSettings
from shared.tables import CommonTables

SERVICE_PACKAGES = ("ingest", "matching", "visits", "reporting")
T = TypeVar("T")


async def _in_transaction(
    settings: ServiceSettings,
    work: Callable[[AsyncSession], Awaitable[T]],
    args: argparse.Namespace,
) -> T:
    """Run `work` as the operator role, with its audit record in the same commit."""
    engine = create_engine(settings.database_url, pool_size=1, role=OPERATOR_ROLE)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            result = await work(session)
            await _record_command(session, settings, args, result)
            return result
    finally:
        await engine.dispose()


def _tables_of(settings: ServiceSettings) -> CommonTables:
    return matching_tables if isinstance(settings, MatchingSettings) else ingest_tables


def _touched_tenant(args: argparse.Namespace, result: object) -> uuid.UUID:
    """Return the tenant a command touched, or the platform for agents and keys."""
    if isinstance(getattr(args, "tenant", None), uuid.UUID):
        return args.tenant  # type: ignore[no-any-return]
    if isinstance(result, dict) and "tenant_id" in result:
        return uuid.UUID(str(result["tenant_id"]))
    return PLATFORM_TENANT_ID


def _touched_ids(args: argparse.Namespace, result: object) -> list[str]:
    """Return the ids a command named or created: tenant, key, user or agents."""
    named = [value for value in vars(args).values() if isinstance(value, uuid.UUID)]
    items = result if isinstance(result, list) else [result]
    made = [
        value
        for item in items
        if isinstance(item, dict)
        for name, value in item.items()
        if name.endswith("_id")
    ]
    return list(dict.fromkeys(str(value) for value in [*named, *made]))


async def _record_command(
    session: AsyncSession,
    settings: ServiceSettings,
    args: argparse.Namespace,
    result: object,
) -> None:
    await add_event(
        session,
        _tables_of(settings),
        OperatorCommandRun(
            tenant_id=_touched_tenant(args, result),
            audit_id=uuid.uuid4(),
            operator=args.operator,
            command=args.command_name,
            target_ids=_touched_ids(args, result),
            run_at=datetime.now(UTC),
        ),
        source="/campo-admin",
        settings=settings,
    )


async def _record_alone(
    settings: ServiceSettings, args: argparse.Namespace, result: object
) -> None:
    """Audit a command whose own writes committed in transactions of their own."""

    async def nothing(session: AsyncSession) -> object:
        return result

    await _in_transaction(settings, nothing, args)


def _create_tenant(args: argparse.Namespace) -> dict[str, Any]:
    settings = IngestSettings()

    async def work(session: AsyncSession) -> dict[str, Any]:
        tenant = await create_tenant(
            session,
            name=args.name,
            country=args.country,
            currency=args.currency,
            settings=settings,
        )
        return {
            "tenant_id": str(tenant.tenant_id),
            "name": tenant.name,
            "api_key": tenant.api_key.key,
            "api_key_prefix": tenant.api_key.prefix,
        }

    return asyncio.run(_in_transaction(settings, work, args))


def _create_api_key(args: argparse.Namespace) -> dict[str, Any]:
    settings = IngestSettings()

    async def work(session: AsyncSession) -> dict[str, Any]:
        key = await create_api_key(
            session,
            tenant_id=args.tenant,
            settings=settings,
            name=args.name,
            scopes=args.scopes,
        )
        return {
            "tenant_id": str(args.tenant),
            "api_key": key.key,
            "api_key_prefix": key.prefix,
            "scopes": stored_scopes(args.scopes),
        }

    return asyncio.run(_in_transaction(settings, work, args))


def _revoke_api_key(args: argparse.Namespace) -> dict[str, Any]:
    settings = IngestSettings()

    async def work(session: AsyncSession) -> dict[str, Any]:
        revoked_at = await revoke_api_key(
            session, tenant_id=args.tenant, key_id=args.key, settings=settings
        )
        return {"key_id": str(args.key), "revoked_at": revoked_at.isoformat()}

    return asyncio.run(_in_transaction(settings, work, args))


def _create_user(args: argparse.Namespace) -> dict[str, Any]:
    settings = IngestSettings()
    password = os.environ.get("CAMPO_USER_PASSWORD")
    generated = password is None
    if password is None:
        password = secrets.token_urlsafe(18)

    async def work(session: AsyncSession) -> dict[str, Any]:
        user = await create_user(
            session,
            tenant_id=args.tenant,
            email=args.email,
            name=args.name,
            role=Role(args.role),
            password=password,
            now=datetime.now(UTC),
        )
        result = {
            "user_id": str(user.user_id),
            "tenant_id": str(user.tenant_id),
            "email": user.email,
            "role": user.role,
        }
        if generated:
            result["password"] = password
        return result

    return asyncio.run(_in_transaction(settings, work, args))


def _rotate_signing_key(args: argparse.Namespace) -> dict[str, Any]:
    settings = IngestSettings()

    async def work(session: AsyncSession) -> dict[str, Any]:
        key, retiring = await rotate_signing_key(
            session, settings, now=datetime.now(UTC)
        )
        return {"kid": key.kid, "retiring": retiring}

    return asyncio.run(_in_transaction(settings, work, args))


def _register_agents(
    specs: Sequence[AgentSpec], args: argparse.Namespace
) -> list[dict[str, Any]]:
    settings = MatchingSettings()

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        registered = []
        for spec in specs:
            agent = await register_agent(session, spec, settings=settings)
            registered.append(
                {
                    "agent_id": str(agent.agent_id),
                    "name": spec.name,
                    "token": agent.token,
                }
            )
        return registered

    return asyncio.run(_in_transaction(settings, work, args))


def _agent_register(args: argparse.Namespace) -> dict[str, Any]:
    spec = AgentSpec(
        name=args.name,
        phone=args.phone,
        lat=args.lat,
        lon=args.lon,
        coverage_radius_m=args.radius_m,
        daily_capacity=args.capacity,
    )
    return _register_agents([spec], args)[0]


def _agent_import(args: argparse.Namespace) -> list[dict[str, Any]]:
    try:
        raw = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise SystemExit(f"{args.file}: not valid JSON ({error})") from None
    if not isinstance(raw, list):
        raise SystemExit(f"{args.file}: expected a JSON list of agents")
    specs = []
    for index, item in enumerate(raw):
        try:
            specs.append(AgentSpec.model_validate(item))
        except ValidationError as error:
            raise SystemExit(
                f"{args.file}: agent #{index + 1} is invalid:\n{error}"
            ) from None
    return _register_agents(specs, args)


def _agent_decide(args: argparse.Namespace) -> dict[str, Any]:
    if args.decision == "suspend":
        return _agent_suspend(args)
    values = OPERATOR_DECISIONS[args.decision]

    async def work(session: AsyncSession) -> bool:
        return await set_operator_status(session, args.agent_id, **values)  # type: ignore[arg-type]

    if not asyncio.run(_in_transaction(MatchingSettings(), work, args)):
        raise SystemExit(f"campo-admin: agent {args.agent_id} not found")
    return {"agent_id": str(args.agent_id), args.decision: True}


def _agent_suspend(args: argparse.Namespace) -> dict[str, Any]:
    settings = MatchingSettings()

    async def suspend() -> Suspension | None:
        engine = create_engine(settings.database_url, pool_size=1, role=OPERATOR_ROLE)
        try:
            return await suspend_agent(
                create_sessionmaker(engine),
                args.agent_id,
                emit=outbox_emit(settings),
                settings=settings,
            )
        finally:
            await engine.dispose()

    suspension = asyncio.run(suspend())
    if suspension is None:
        raise SystemExit(f"campo-admin: agent {args.agent_id} not found")
    report = suspension_report(args.agent_id, suspension)
    asyncio.run(_record_alone(settings, args, report))
    return report


def _migrate(args: argparse.Namespace) -> dict[str, Any]:
    database_url = ServiceSettings().database_url
    # Schema changes need the owner, so migrations run as the login role.
    for package in SERVICE_PACKAGES:
        upgrade(database_url, package)
    result = {"migrated": list(SERVICE_PACKAGES)}
    asyncio.run(_record_alone(IngestSettings(), args, result))
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="campo-admin",
        description="Operator commands. Connection settings come from DATABASE_URL.",
    )
    parser.add_argument(
        "--operator",
        default=default_operator(),
        help=(
            "who runs the command, for the audit log; default: the OS user "
            "(%(default)s)"
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser(
        "migrate", help="apply every service's migrations"
    ).set_defaults(run=_migrate, command_name="migrate")

    tenant = commands.add_parser("tenant", help="tenants").add_subparsers(required=True)
    create = tenant.add_parser(
        "create", help="create a tenant and print its first API key"
    )
    create.add_argument("--name", required=True)
    create.add_argument("--country", default="MX", help="ISO 3166-1 alpha-2 code")
    create.add_argument("--currency", default="MXN", help="ISO 4217 code")
    create.set_defaults(run=_create_tenant, command_name="tenant create")

    key = commands.add_parser("api-key", help="API keys").add_subparsers(required=True)
    key_create = key.add_parser("create", help="add an API key to a tenant")
    key_create.add_argument("--tenant", required=True, type=_uuid)
    key_create.add_argument("--name", help="what the key is for, e.g. 'ERP sync'")
    key_create.add_argument(
        "--scopes",
        type=_scopes,
        default=DEFAULT_KEY_SCOPES,
        help=(
            "comma-separated scopes, e.g. accounts:write,results:read; default: "
            "every scope except keys:manage. Valid: "
            + ", ".join(stored_scopes(ALL_SCOPES))
        ),
    )
    key_create.set_defaults(run=_create_api_key, command_name="api-key create")
    key_revoke = key.add_parser("revoke", help="revoke an API key in every service")
    key_revoke.add_argument("--tenant", required=True, type=_uuid)
    key_revoke.add_argument("--key", required=True, type=_uuid, help="the key_id")
    key_revoke.set_defaults(run=_revoke_api_key, command_name="api-key revoke")

    user = commands.add_parser("user", help="people who log in").add_subparsers(
        required=True
    )
    user_create = user.add_parser(
        "create",
        help=(
            "add a person to a tenant; the password comes from CAMPO_USER_PASSWORD, "
            "or a random one is printed once"
        ),
    )
    user_create.add_argument("--tenant", required=True, type=_uuid)
    user_create.add_argument("--email", required=True)
    user_create.add_argument("--name", required=True)
    user_create.add_argument(
        "--role", required=True, choices=[role.value for role in Role]
    )
    user_create.set_defaults(run=_create_user, command_name="user create")

    auth = commands.add_parser("auth", help="access token signing").add_subparsers(
        required=True
    )
    rotate = auth.add_parser(
        "rotate-signing-key",
        help="sign new tokens with a new key; older keys stop verifying later",
    )
    rotate.set_defaults(run=_rotate_signing_key, command_name="auth rotate-signing-key")

    agent = commands.add_parser("agent", help="field agents").add_subparsers(
        required=True
    )
    register = agent.add_parser("register", help="register one agent, print its token")
    register.add_argument("--name", required=True)
    register.add_argument("--phone", required=True, help="E.164, e.g. +525512345678")
    register.add_argument("--lat", required=True, type=float)
    register.add_argument("--lon", required=True, type=float)
    register.add_argument("--radius-m", type=int, default=5000, help="coverage, meters")
    register.add_argument("--capacity", type=int, default=8, help="visits a day")
    register.set_defaults(run=_agent_register, command_name="agent register")
    bulk = agent.add_parser("import", help="register agents from a JSON list")
    bulk.add_argument("file", help="JSON list of {name, phone, lat, lon, ...}")
    bulk.set_defaults(run=_agent_import, command_name="agent import")
    decisions = {
        "verify": "record that the agent's identity was checked; only "
        "verified agents get offers",
        "suspend": "stop offers to the agent until it is reinstated; its open "
        "offers and the visits it has not checked in to go to other agents",
        "reinstate": "lift a suspension; the agent comes back offline",
    }
    for name, text in decisions.items():
        decision = agent.add_parser(name, help=text)
        decision.add_argument("agent_id", type=_uuid)
        decision.set_defaults(
            run=_agent_decide, decision=name, command_name=f"agent {name}"
        )
    return parser


def _scopes(value: str) -> frozenset[Scope]:
    try:
        return parse_scopes([part.strip() for part in value.split(",") if part.strip()])
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a UUID") from None


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        result = args.run(args)
    except ValidationError as error:
        print(f"campo-admin: invalid input:\n{error}", file=sys.stderr)
        raise SystemExit(2) from None
    except (ValueError, AppError) as error:
        print(f"campo-admin: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except (OSError, SQLAlchemyError) as error:
        print(
            f"campo-admin: {type(error).__name__}: {error}; check DATABASE_URL and "
            "that the database is running and migrated (campo-admin migrate)",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
