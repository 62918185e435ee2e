"""The async engine, the session factory and the declarative base of each schema."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from shared.tenancy import ScopedSession

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_base(schema: str) -> type[DeclarativeBase]:
    """Build a declarative base whose tables all live in one PostgreSQL schema."""

    class Base(DeclarativeBase):
        metadata = MetaData(schema=schema, naming_convention=NAMING_CONVENTION)

    return Base


# A connection older than this is closed at checkout and replaced, at no
# round trip. It limits how long the pool keeps a connection that a
# server-side idle timeout or a failover may have closed.
POOL_RECYCLE_SECONDS = 1800


def create_engine(
    database_url: str,
    *,
    pool_size: int = 5,
    pre_ping: bool = False,
    recycle_seconds: int = POOL_RECYCLE_SECONDS,
    role: str | None = None,
) -> AsyncEngine:
    """Build the engine; with `role`, every new connection switches to it.

    Services pass their DATABASE_ROLE (campo_app), which row-level security
    binds, and campo-admin passes campo_operator. Migrations and test
    fixtures pass none and keep the login role, which owns the tables.

    `pre_ping` tests each connection before lending it, at one round trip on
    every checkout. Without it, a connection the server closed fails on its
    first statement, and the request gets a 503 problem asking for a retry
    (see `shared.errors`). The pool then drops that connection and every
    older one, so the retry gets a fresh one.
    """
    engine = create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_recycle=recycle_seconds,
        # Statement parameters carry personal data; keep them out of the
        # messages of database errors, which end up in logs.
        hide_parameters=True,
    )
    if role:
        _switch_role_on_connect(engine, role)
    return engine


def _switch_role_on_connect(engine: AsyncEngine, role: str) -> None:
    statement = 'SET ROLE "{}"'.format(role.replace('"', '""'))

    @event.listens_for(engine.sync_engine, "connect")
    def switch(dbapi_connection: Any, connection_record: Any) -> None:
        # On the raw asyncpg connection, outside any transaction, so that a
        # rollback cannot undo it: the role holds for the connection's life.
        dbapi_connection.run_async(lambda raw: raw.execute(statement))


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after commit, because lazy
    # refreshes are impossible under asyncio.
    # ScopedSession sends the tenant of the current request, or the platform
    # scope of background work, when each transaction begins.
    return async_sessionmaker(
        engine, expire_on_commit=False, sync_session_class=ScopedSession
    )


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """Open a session in a transaction: commit on success, roll back on error."""
    async with sessionmaker() as session, session.begin():
        yield session
