"""Row-level security on the real database: the second lock behind every filter.

Rows of two tenants are seeded as the owner into one tenant-owned table of
each schema. The queries then run as the services run them, switched to
campo_app, and carry no tenant filter of their own: what comes back is what
the policies let through.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import create_engine
from shared.rls import APP_ROLE
from shared.settings import ServiceSettings
from shared.tenancy import (
    RowScope,
    UnsafeDatabaseRoleError,
    apply_scope,
    check_app_role,
    platform_scope,
    tenant_scope,
)

# One tenant-owned table per schema, and how to seed a row of it for a tenant.
SEEDS = {
    "ingest.upload_settings": (
        "INSERT INTO ingest.upload_settings (tenant_id, on_error) "
        "VALUES (:tenant_id, 'skip')"
    ),
    "matching.visit_requests": (
        "INSERT INTO matching.visit_requests (visit_id, tenant_id, campaign_id, "
        "location, fee_amount, fee_currency, deadline, requested_at, state) "
        "VALUES (gen_random_uuid(), :tenant_id, gen_random_uuid(), "
        "ST_GeogFromText('POINT(-99.13 19.43)'), 100, 'MXN', now() + interval "
        "'3 days', now(), 'pending')"
    ),
    "visits.tenant_visit_rules": (
        "INSERT INTO visits.tenant_visit_rules (tenant_id) VALUES (:tenant_id)"
    ),
    "reporting.tenant_stream_counters": (
        "INSERT INTO reporting.tenant_stream_counters (tenant_id, last_seq) "
        "VALUES (:tenant_id, 0)"
    ),
}
TABLES = sorted(SEEDS)
PROBE_LOGIN = "campo_rls_probe"


@dataclass(frozen=True)
class Seeded:
    tenant_a: uuid.UUID
    tenant_b: uuid.UUID


@pytest_asyncio.fixture(scope="module")
async def seeded(owner_engine: AsyncEngine) -> Seeded:
    tenants = Seeded(tenant_a=uuid.uuid4(), tenant_b=uuid.uuid4())
    async with owner_engine.begin() as connection:
        for table in TABLES:
            for tenant_id in (tenants.tenant_a, tenants.tenant_b):
                await connection.execute(text(SEEDS[table]), {"tenant_id": tenant_id})
    return tenants


async def _tenants_in(
    sessions: async_sessionmaker[AsyncSession], table: str, seeded: Seeded
) -> set[uuid.UUID]:
    """The seeded tenants whose rows `table` shows, queried with no tenant filter."""
    async with sessions() as session, session.begin():
        found = await session.scalars(text(f"SELECT tenant_id FROM {table}"))
        return set(found) & {seeded.tenant_a, seeded.tenant_b}


class TestTenantScope:
    @pytest.mark.parametrize("table", TABLES)
    async def test_tenant_reads_only_its_rows(
        self, app_sessions: async_sessionmaker[AsyncSession], seeded: Seeded, table: str
    ) -> None:
        with tenant_scope(seeded.tenant_a):
            assert await _tenants_in(app_sessions, table, seeded) == {seeded.tenant_a}
        with tenant_scope(seeded.tenant_b):
            assert await _tenants_in(app_sessions, table, seeded) == {seeded.tenant_b}

    @pytest.mark.parametrize("table", TABLES)
    async def test_no_scope_reads_no_rows(
        self, app_sessions: async_sessionmaker[AsyncSession], seeded: Seeded, table: str
    ) -> None:
        assert await _tenants_in(app_sessions, table, seeded) == set()

    @pytest.mark.parametrize("table", TABLES)
    async def test_platform_scope_reads_every_tenant(
        self, app_sessions: async_sessionmaker[AsyncSession], seeded: Seeded, table: str
    ) -> None:
        with platform_scope():
            assert await _tenants_in(app_sessions, table, seeded) == {
                seeded.tenant_a,
                seeded.tenant_b,
            }

    async def test_scope_ends_with_transaction(
        self, app_sessions: async_sessionmaker[AsyncSession], seeded: Seeded
    ) -> None:
        # One pooled connection serves both transactions: the tenant set for
        # the first must not leak into the second.
        table = "ingest.upload_settings"
        async with app_sessions() as session:
            async with session.begin():
                await apply_scope(session, RowScope(tenant_id=seeded.tenant_a))
                first = set(
                    await session.scalars(text(f"SELECT tenant_id FROM {table}"))
                )
            async with session.begin():
                second = set(
                    await session.scalars(text(f"SELECT tenant_id FROM {table}"))
                )
        assert seeded.tenant_a in first
        assert second == set()

    async def test_tenant_cannot_write_other_tenant_row(
        self, app_sessions: async_sessionmaker[AsyncSession], seeded: Seeded
    ) -> None:
        with tenant_scope(seeded.tenant_a), pytest.raises(DBAPIError) as raised:
            async with app_sessions() as session, session.begin():
                await session.execute(
                    text(SEEDS["visits.tenant_visit_rules"]),
                    {"tenant_id": uuid.uuid4()},
                )
        assert "row-level security" in str(raised.value)

    async def test_tenant_update_spares_other_tenants(
        self,
        app_sessions: async_sessionmaker[AsyncSession],
        owner_engine: AsyncEngine,
        seeded: Seeded,
    ) -> None:
        with tenant_scope(seeded.tenant_a):
            async with app_sessions() as session, session.begin():
                await session.execute(
                    text("UPDATE reporting.tenant_stream_counters SET last_seq = 7")
                )
        async with owner_engine.connect() as connection:
            rows = dict(
                (
                    await connection.execute(
                        text(
                            "SELECT tenant_id, last_seq FROM "
                            "reporting.tenant_stream_counters WHERE tenant_id IN "
                            "(:a, :b)"
                        ),
                        {"a": seeded.tenant_a, "b": seeded.tenant_b},
                    )
                ).all()
            )
        assert rows == {seeded.tenant_a: 7, seeded.tenant_b: 0}


def _plain_dsn(url: str, *, user: str | None = None) -> str:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    if user is None:
        return dsn
    _, _, host_and_db = dsn.partition("@")
    return f"postgresql://{user}:{user}@{host_and_db}"


@pytest_asyncio.fixture(scope="module")
async def app_login() -> AsyncIterator[asyncpg.Connection]:
    """A connection as production makes it: a login role that is only a
    member of campo_app, switched to it."""
    url = ServiceSettings().database_url
    admin = await asyncpg.connect(_plain_dsn(url))
    try:
        # Roles are cluster-wide and other databases may hold this one.
        await admin.execute(
            f"""
            DO $$
            BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PROBE_LOGIN}')
                THEN
                    CREATE ROLE {PROBE_LOGIN} LOGIN PASSWORD '{PROBE_LOGIN}'
                        IN ROLE {APP_ROLE};
                END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END
            $$
            """
        )
    finally:
        await admin.close()
    connection = await asyncpg.connect(_plain_dsn(url, user=PROBE_LOGIN))
    await connection.execute(f"SET ROLE {APP_ROLE}")
    yield connection
    await connection.close()


class TestAppRole:
    async def test_app_role_neither_superuser_nor_bypassing(
        self, app_sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        async with app_sessions() as session, session.begin():
            row = (
                await session.execute(
                    text(
                        "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles "
                        "WHERE rolname = current_user"
                    )
                )
            ).one()
        assert tuple(row) == (APP_ROLE, False, False)

    async def test_app_role_passes_startup_check(self) -> None:
        engine = create_engine(ServiceSettings().database_url, role=APP_ROLE)
        try:
            await check_app_role(engine, schema="visits")
        finally:
            await engine.dispose()

    @pytest.mark.parametrize("role", [None, "campo_operator"])
    async def test_startup_check_refuses_bypassing_role(self, role: str | None) -> None:
        # None keeps the login role: the local superuser that owns the tables.
        engine = create_engine(ServiceSettings().database_url, role=role)
        try:
            with pytest.raises(UnsafeDatabaseRoleError, match="DATABASE_ROLE"):
                await check_app_role(engine, schema="visits")
        finally:
            await engine.dispose()

    async def test_app_role_cannot_switch_to_owner(
        self, app_login: asyncpg.Connection
    ) -> None:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app_login.execute("SET ROLE campo")

    async def test_app_role_cannot_disable_policies(
        self, app_login: asyncpg.Connection
    ) -> None:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app_login.execute(
                "ALTER TABLE visits.tenant_visit_rules DISABLE ROW LEVEL SECURITY"
            )

    async def test_row_security_off_fails_not_bypasses(
        self, app_login: asyncpg.Connection, seeded: Seeded
    ) -> None:
        await app_login.execute("SET row_security = off")
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await app_login.fetch("SELECT tenant_id FROM visits.tenant_visit_rules")
        finally:
            await app_login.execute("RESET row_security")

    async def test_reset_role_still_reads_no_rows(
        self, app_login: asyncpg.Connection, seeded: Seeded
    ) -> None:
        # Back to the login role, a member of campo_app: still bound.
        await app_login.execute("RESET ROLE")
        try:
            rows = await app_login.fetch(
                "SELECT tenant_id FROM visits.tenant_visit_rules"
            )
        finally:
            await app_login.execute(f"SET ROLE {APP_ROLE}")
        assert {row["tenant_id"] for row in rows} & {
            seeded.tenant_a,
            seeded.tenant_b,
        } == set()
