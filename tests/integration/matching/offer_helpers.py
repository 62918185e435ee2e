"""Reading and answering offers in integration tests of the offer modes."""

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching.agents import RegisteredAgent
from matching.models import AgentDailyLoad, Assignment, VisitRequest
from tests.fixtures.apps import eventually
from tests.integration.matching.helpers import bearer

Sessionmaker = async_sessionmaker[AsyncSession]


async def open_offers(client: httpx.AsyncClient, agent: RegisteredAgent) -> list[dict]:
    response = await client.get("/agents/me/offers", headers=bearer(agent.token))
    assert response.status_code == 200, response.text
    return response.json()


async def offer_for(
    client: httpx.AsyncClient, agent: RegisteredAgent, visit_id: uuid.UUID
) -> dict:
    """Wait until the agent's open offers include the visit; return that offer."""

    async def probe() -> dict | None:
        found = [
            o
            for o in await open_offers(client, agent)
            if o["visit_id"] == str(visit_id)
        ]
        return found[0] if found else None

    return await eventually(probe, message=f"offer of visit {visit_id}")


async def accept_offer(
    client: httpx.AsyncClient, agent: RegisteredAgent, offer_id: str
) -> httpx.Response:
    return await client.post(f"/offers/{offer_id}/accept", headers=bearer(agent.token))


async def decline_offer(
    client: httpx.AsyncClient,
    agent: RegisteredAgent,
    offer_id: str,
    body: Any = None,
) -> httpx.Response:
    return await client.post(
        f"/offers/{offer_id}/decline",
        headers=bearer(agent.token),
        json={"reason": "too_far"} if body is None else body,
    )


async def request_state(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> str | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(VisitRequest.state).where(VisitRequest.visit_id == visit_id)
        )


async def active_assignments(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(
                Assignment.visit_id == visit_id, Assignment.state == "active"
            )
        )
    return count or 0


async def assigned_load(sessionmaker: Sessionmaker, agent_id: uuid.UUID) -> int:
    async with sessionmaker() as session:
        assigned = await session.scalar(
            select(func.sum(AgentDailyLoad.assigned)).where(
                AgentDailyLoad.agent_id == agent_id
            )
        )
    return int(assigned or 0)
