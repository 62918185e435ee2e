"""Which tenant's rows a transaction may read: the key row-level security checks.

Every query filters by tenant; the policies on tenant-owned tables (see
`shared.rls`) are the second lock. They compare each row's `tenant_id` with
the transaction-local setting `campo.tenant_id`, or let every row through
when `campo.scope` is `platform`. A transaction with neither reads no tenant
rows, so a forgotten filter returns nothing instead of another tenant's rows.

The scope lives in a context variable: authentication sets the tenant for
the rest of a request, and background work that spans tenants (relay,
consumers, sweeps, webhook delivery, dispatch) sets the platform scope once
where it starts. Every session made by `shared.db.create_sessionmaker` then
sends the scope when its transaction begins, in one statement. Code that
opens a connection without a session calls `apply_scope` itself.
"""

from collections.abc import Iterator
from contextlib import contextmanager
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
PLATFORM = "platform"

# Both settings in one round trip; `true` makes them last until the
# transaction ends, so a pooled connection never carries a scope over.
ROLE_ESCAPES = text(
    "SELECT current_user AS role, rolsuper, rolbypassrls, "
    "(SELECT count(*) FROM pg_tables WHERE schemaname = :schema "
    "AND tableowner = current_user) AS owned "
    "FROM pg_roles WHERE rolname = current_user"
)
SET_SCOPE = text(
    f"SELECT set_config('{TENANT_SETTING}', :tenant_id, true), "
    f"set_config('{SCOPE_SETTING}', :scope, true)"
)


@dataclass(frozen=True)
class RowScope:
    """One tenant's rows, or every tenant's rows for platform work."""

    tenant_id: UUID | None = None
    platform: bool = False

    def parameters(self) -> dict[str, str]:
        return {
            "tenant_id": str(self.tenant_id) if self.tenant_id else "",
            "scope": PLATFORM if self.platform else "",
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
    where it must: the outbox relay, consumers, sweeps, agents' requests.
    """
    _current.set(PLATFORM_SCOPE)


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
