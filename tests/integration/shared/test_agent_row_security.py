"""The agent policies on the real database: one agent never reads another's work.

Two agents' visits, offers and assignments, for two tenants, are seeded as
the owner. The queries then run as campo_app without any agent filter of
their own: what comes back is what the policies let through.
"""

import uuid
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.tenancy import (
    across_agents,
    agent_scope,
    leave_agent_scope,
    platform_scope,
    tenant_scope,
)

AGENT_TABLES = ("visits.visits", "matching.offers", "matching.assignments")

SEED_AGENT = (
    "INSERT INTO matching.agents (agent_id, name, phone, base_location, "
    "coverage_radius_m, daily_capacity, travel_mode, status, verified) VALUES "
    "(:agent_id, 'Agent', '+525500000000', ST_GeogFromText('POINT(-99.13 19.43)'), "
    "5000, 5, 'car', 'online', true)"
)
SEED_REQUEST = (
    "INSERT INTO matching.visit_requests (visit_id, tenant_id, campaign_id, "
    "location, fee_amount, fee_currency, deadline, requested_at, state) VALUES "
    "(:visit_id, :tenant_id, gen_random_uuid(), "
    "ST_GeogFromText('POINT(-99.13 19.43)'), 100, 'MXN', now() + interval "
    "'3 days', now(), 'assigned')"
)
SEED_OFFER = (
    "INSERT INTO matching.offers (offer_id, visit_id, agent_id, tenant_id, state, "
    "distance_m, offered_at) VALUES (:offer_id, :visit_id, :agent_id, :tenant_id, "
    "'accepted', 10, now())"
)
SEED_ASSIGNMENT = (
    "INSERT INTO matching.assignments (assignment_id, visit_id, offer_id, agent_id, "
    "tenant_id, state, distance_m, assigned_at) VALUES (gen_random_uuid(), "
    ":visit_id, :offer_id, :agent_id, :tenant_id, 'active', 10, now())"
)
SEED_VISIT = (
    "INSERT INTO visits.visits (visit_id, tenant_id, campaign_id, account_id, "
    "account_key, attempt, state, objective, questions, max_discount_pct, "
    "debtor_name, location, deadline, fee_amount, fee_currency, requested_at, "
    "agent_id, check_in_count) VALUES (:visit_id, :tenant_id, gen_random_uuid(), "
    "gen_random_uuid(), 'ACC-1', 1, 'assigned', 'collect', '{}', 0, 'Debtor', "
    "ST_GeogFromText('POINT(-99.13 19.43)'), now() + interval '3 days', 100, "
    "'MXN', now(), :agent_id, 0)"
)


@dataclass(frozen=True)
class Seeded:
    """Agent a holds a visit of tenant a; agent b one of tenant b."""

    agent_a: uuid.UUID
    agent_b: uuid.UUID
    tenant_a: uuid.UUID
    tenant_b: uuid.UUID

    @property
    def agents(self) -> set[uuid.UUID]:
        return {self.agent_a, self.agent_b}


async def _seed_work(
    connection: object, *, agent_id: uuid.UUID, tenant_id: uuid.UUID
) -> None:
    ids = {
        "agent_id": agent_id,
        "tenant_id": tenant_id,
        "visit_id": uuid.uuid4(),
        "offer_id": uuid.uuid4(),
    }
    for statement in (SEED_AGENT, SEED_REQUEST, SEED_OFFER, SEED_ASSIGNMENT):
        await connection.execute(text(statement), ids)  # type: ignore[attr-defined]
    await connection.execute(text(SEED_VISIT), ids)  # type: ignore[attr-defined]


@pytest_asyncio.fixture(scope="module")
async def seeded(owner_engine: AsyncEngine) -> Seeded:
    rows = Seeded(
        agent_a=uuid.uuid4(),
        agent_b=uuid.uuid4(),
        tenant_a=uuid.uuid4(),
        tenant_b=uuid.uuid4(),
    )
    async with owner_engine.begin() as connection:
        await _seed_work(connection, agent_id=rows.agent_a, tenant_id=rows.tenant_a)
        await _seed_work(connection, agent_id=rows.agent_b, tenant_id=rows.tenant_b)
    return rows


async def _agents_in(
    sessions: async_sessionmaker[AsyncSession], table: str, seeded: Seeded
) -> set[uuid.UUID]:
    """The seeded agents whose rows `table` shows, queried with no agent filter."""
    async with sessions() as session, session.begin():
        found = await session.scalars(text(f"SELECT agent_id FROM {table}"))
        return set(found) & seeded.agents


class TestAgentScope:
    @pytest.mark.parametrize("table", AGENT_TABLES)
    async def test_agent_reads_only_its_rows(
        self, app_sessions: async_sessionmaker[AsyncSession], seeded: Seeded, table: str
    ) -> None:
        with agent_scope(seeded.agent_a):
            assert await _agents_in(app_sessions, table, seeded) == {seeded.agent_a}
        with agent_scope(seeded.agent_b):
            assert await _agents_in(app_sessions, table, seeded) == {seeded.agent_b}

    @pytest.mark.parametrize("table", AGENT_TABLES)
    async def test_platform_scope_reads_every_agent(
        self, app_sessions: async_sessionmaker[AsyncSession], seeded: Seeded, table: str
    ) -> None:
        with platform_scope():
            assert await _agents_in(app_sessions, table, seeded) == seeded.agents

    @pytest.mark.parametrize("table", AGENT_TABLES)
    async def test_tenant_scope_reads_its_agents_rows(
        self, app_sessions: async_sessionmaker[AsyncSession], seeded: Seeded, table: str
    ) -> None:
        with tenant_scope(seeded.tenant_b):
            assert await _agents_in(app_sessions, table, seeded) == {seeded.agent_b}

    async def test_agent_reads_other_tenant_tables_whole(
        self, app_sessions: async_sessionmaker[AsyncSession], seeded: Seeded
    ) -> None:
        # Visit requests have no agent policy: the agent's scope is the
        # platform's there, as agents' requests were before.
        with agent_scope(seeded.agent_a):
            async with app_sessions() as session, session.begin():
                found = set(
                    await session.scalars(
                        text("SELECT tenant_id FROM matching.visit_requests")
                    )
                )
        assert {seeded.tenant_a, seeded.tenant_b} <= found

    async def test_agent_update_spares_other_agents(
        self,
        app_sessions: async_sessionmaker[AsyncSession],
        owner_engine: AsyncEngine,
        seeded: Seeded,
    ) -> None:
        with agent_scope(seeded.agent_a):
            async with app_sessions() as session, session.begin():
                await session.execute(
                    text("UPDATE visits.visits SET state_reason = 'probe'")
                )
        async with owner_engine.connect() as connection:
            rows = dict(
                (
                    await connection.execute(
                        text(
                            "SELECT agent_id, state_reason FROM visits.visits "
                            "WHERE agent_id IN (:a, :b)"
                        ),
                        {"a": seeded.agent_a, "b": seeded.agent_b},
                    )
                ).all()
            )
        assert rows == {seeded.agent_a: "probe", seeded.agent_b: None}

    async def test_agent_cannot_hand_its_row_to_another(
        self, app_sessions: async_sessionmaker[AsyncSession], seeded: Seeded
    ) -> None:
        with agent_scope(seeded.agent_a), pytest.raises(DBAPIError) as raised:
            async with app_sessions() as session, session.begin():
                await session.execute(
                    text("UPDATE visits.visits SET agent_id = :other"),
                    {"other": seeded.agent_b},
                )
        assert "row-level security" in str(raised.value)

    async def test_leaving_agent_scope_reads_every_agent(
        self, app_sessions: async_sessionmaker[AsyncSession], seeded: Seeded
    ) -> None:
        with agent_scope(seeded.agent_a):
            async with app_sessions() as session, session.begin():
                await leave_agent_scope(session)
                found = set(
                    await session.scalars(text("SELECT agent_id FROM matching.offers"))
                )
        assert seeded.agents <= found

    async def test_leaving_does_not_widen_a_tenant(
        self, app_sessions: async_sessionmaker[AsyncSession], seeded: Seeded
    ) -> None:
        with tenant_scope(seeded.tenant_a):
            async with app_sessions() as session, session.begin():
                await leave_agent_scope(session)
                found = set(
                    await session.scalars(text("SELECT agent_id FROM matching.offers"))
                )
        assert found & seeded.agents == {seeded.agent_a}

    async def test_across_agents_widens_one_step_only(
        self, app_sessions: async_sessionmaker[AsyncSession], seeded: Seeded
    ) -> None:
        query = text("SELECT agent_id FROM visits.visits")
        with agent_scope(seeded.agent_a):
            async with app_sessions() as session, session.begin():
                async with across_agents(session):
                    inside = set(await session.scalars(query))
                after = set(await session.scalars(query))
        assert seeded.agents <= inside
        assert after & seeded.agents == {seeded.agent_a}
