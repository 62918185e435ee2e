"""Which tenant's rows a transaction may read: the key row-level security checks.

Every query filters by tenant; the policies on tenant-owned tables (see
`shared.rls`) are the second lock. They compare each row's `tenant_id` with
the transaction-local setting `campo.tenant_id`, or let every row through
when `campo.scope` is `platform`. A transaction with neither reads no tenant
rows, so a forgotten filter returns nothing instead of another tenant's rows.

Agents belong to the platform and serve many tenants, so an agent's request
runs in the platform scope and also names the agent in `campo.agent_id`.
The tables that hold an agent's work (visits, check-ins, results, offers,
assignments) carry a second policy that then lets through only the rows
whose `agent_id` is that agent's. Tenant and platform scopes leave the
setting empty, and that policy lets every row through.

The scope lives in a context variable: authentication sets the tenant for
the rest of a request, and background work that spans tenants (relay,
consumers, sweeps, webhook delivery, dispatch) sets the platform scope once
where it starts. Every session made by `shared.db.create_sessionmaker` then
sends the scope when its transaction begins, in one statement. Code that
opens a connection without a session calls `apply_scope` itself.
"""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

TENANT_SETTING = "campo.tenant_id"
SCOPE_SETTING = "campo.scope"
AGENT_SETTING = "campo.agent_id"
PLATFORM = "platform"

# The three settings in one round trip; `true` makes them last until the
# transaction ends, so a pooled connection never carries a scope over.
ROLE_ESCAPES = text(
    "SELECT current_user AS role, rolsuper, rolbypassrls, "
    "(SELECT count(*) FROM pg_tables WHERE schemaname = :schema "
    "AND tableowner = current_user) AS owned "
    "FROM pg_roles WHERE rolname = current_user"
)
SET_SCOPE = text(
    f"SELECT set_config('{TENANT_SETTING}', :tenant_id, true), "
    f"set_config('{SCOPE_SETTING}', :scope, true), "
    f"set_config('{AGENT_SETTING}', :agent_id, true)"
)


@dataclass(frozen=True)
class RowScope:
    """One tenant's rows, every tenant's rows for platform work, or an agent's.

    An agent's scope is the platform scope narrowed to the rows of one agent
    on the tables that record agents' work.
    """

    tenant_id: UUID | None = None
    platform: bool = False
    agent_id: UUID | None = None

    def parameters(self) -> dict[str, str]:
        return {
            "tenant_id": str(self.tenant_id) if self.tenant_id else "",
            "scope": PLATFORM if self.platform else "",
            "agent_id": str(self.agent_id) if self.agent_id else "",
        }


PLATFORM_SCOPE = RowScope(platform=True)

_current: ContextVar[RowScope | None] = ContextVar("campo_row_scope", default=None)


def current_scope() -> RowScope | None:
    return _current.get()


def use_tenant(tenant_id: UUID) -> None:
    """Scope the rest of the current task (a request) to one tenant's rows."""
    _current.set(RowScope(tenant_id=tenant_id))


def use_platform() -> None:
    """Let the rest of the current task see every tenant's rows.

    Only for work that spans tenants by design and filters by tenant itself
    where it must: the outbox relay, consumers, sweeps, dispatch.
    """
    _current.set(PLATFORM_SCOPE)


def agent_row_scope(agent_id: UUID) -> RowScope:
    return RowScope(platform=True, agent_id=agent_id)


def use_agent(agent_id: UUID) -> None:
    """Scope the rest of the current task (an agent's request) to one agent.

    The agent reads every tenant's visits it holds, and only those: the
    agent policies hide other agents' visits, offers and assignments.
    """
    _current.set(agent_row_scope(agent_id))


@contextmanager
def row_scope(scope: RowScope) -> Iterator[None]:
    """Use `scope` inside the block and restore the previous one after it."""
    token = _current.set(scope)
    try:
        yield
    finally:
        _current.reset(token)


def tenant_scope(tenant_id: UUID) -> Any:
    return row_scope(RowScope(tenant_id=tenant_id))


def platform_scope() -> Any:
    return row_scope(PLATFORM_SCOPE)


def agent_scope(agent_id: UUID) -> Any:
    return row_scope(agent_row_scope(agent_id))


async def apply_scope(
    target: AsyncSession | AsyncConnection, scope: RowScope | None = None
) -> None:
    """Send `scope` (by default the current one) to the open transaction.

    For code that runs statements on a connection of its own; sessions from
    `create_sessionmaker` do this by themselves when they begin.
    """
    chosen = scope or current_scope()
    if chosen is not None:
        await target.execute(SET_SCOPE, chosen.parameters())


async def leave_agent_scope(target: AsyncSession | AsyncConnection) -> None:
    """Widen an agent's open transaction to the platform scope.

    For the steps an agent's answer sets off on other agents' rows, once the
    answer was checked against the agent's own: accepting an offer withdraws
    the others' offers, declining or giving a visit back offers it to the
    next agent. Outside an agent's scope this does nothing, so a tenant's
    transaction is never widened.
    """
    scope = current_scope()
    if scope is not None and scope.agent_id is not None:
        await target.execute(SET_SCOPE, PLATFORM_SCOPE.parameters())


@asynccontextmanager
async def across_agents(target: AsyncSession | AsyncConnection) -> AsyncIterator[None]:
    """Read other agents' rows for one step of an agent's request, then narrow again.

    For a rule that counts other agents' work without showing it, such as
    the weekly limit of visits to one account. The agent's scope is sent
    again only when the block succeeds: an error ends the transaction, and
    the scope with it.
    """
    scope = current_scope()
    if scope is None or scope.agent_id is None:
        yield
        return
    await target.execute(SET_SCOPE, PLATFORM_SCOPE.parameters())
    yield
    await target.execute(SET_SCOPE, scope.parameters())


class ScopedSession(Session):
    """A session that sends the current row scope when a transaction begins."""


@event.listens_for(ScopedSession, "after_begin")
def _send_scope(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    # Runs inside the greenlet of the async session, so a plain execute is
    # allowed; no scope means no statement, and the transaction reads no
    # tenant rows.
    scope = current_scope()
    if scope is not None:
        connection.execute(SET_SCOPE, scope.parameters())


class UnsafeDatabaseRoleError(RuntimeError):
    """The role a service runs as escapes row-level security."""


async def check_app_role(engine: AsyncEngine, *, schema: str) -> None:
    """Refuse to serve when the service's role would bypass the policies.

    A superuser, a BYPASSRLS role or the tables' owner reads every tenant's
    rows whatever the policies say, so a DATABASE_ROLE that names one of
    them would quietly turn the second lock off.
    """
    async with engine.connect() as connection:
        row = (await connection.execute(ROLE_ESCAPES, {"schema": schema})).one()
    if row.rolsuper or row.rolbypassrls or row.owned:
        raise UnsafeDatabaseRoleError(
            f"the service runs as the database role {row.role}, which is a "
            "superuser, bypasses row-level security or owns the tables of "
            f"schema {schema}; set DATABASE_ROLE to campo_app, the role the "
            "migrations create"
        )
