"""Audit records of the commands an operator runs outside the APIs.

The operators' tools connect as `campo_operator`, which bypasses row-level
security, so each command leaves an `OperatorCommandRun` on the service's
outbox: who ran it, the command, and the tenant and ids it touched. The
relay publishes it on `audit.v1`, and reporting shows it on `GET /audit` to
the administrator of the tenant it names. Commands on the platform's own
rows (agents, the read models of every tenant) name PLATFORM_TENANT_ID.
"""

import argparse
import getpass
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.payloads import PLATFORM_TENANT_ID, OperatorCommandRun
from shared.outbox import add_event
from shared.settings import ServiceSettings
from shared.tables import CommonTables


def default_operator() -> str:
    """Return the OS user, the operator a command names when none is given."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def add_operator_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--operator",
        default=default_operator(),
        help="who runs the command, for the audit record (default: the OS user)",
    )


async def record_command(
    session: AsyncSession,
    tables: CommonTables,
    settings: ServiceSettings,
    *,
    operator: str,
    command: str,
    target_ids: Iterable[object] = (),
    tenant_id: uuid.UUID = PLATFORM_TENANT_ID,
) -> None:
    """Write the command's audit record in the caller's transaction."""
    await add_event(
        session,
        tables,
        OperatorCommandRun(
            tenant_id=tenant_id,
            audit_id=uuid.uuid4(),
            operator=operator[:80],
            command=command,
            target_ids=list(dict.fromkeys(str(value) for value in target_ids)),
            run_at=datetime.now(UTC),
        ),
        source=f"/{command.split()[0]}",
        settings=settings,
    )
