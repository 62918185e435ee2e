"""A campaign launched through ingest, matched to an agent and seen in visits.

Each flow works in a region of its own, far from the Mexican addresses of
other tests, so its visit can only go to the agent registered for it.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest.models import CampaignVisit
from ingest.tenants import CreatedTenant
from matching.models import AgentDailyLoad, Assignment, VisitRequest
from shared.auth import issue_agent_token
from shared.events.payloads import GeoPoint
from shared.settings import ServiceSettings
from tests.fixtures.apps import eventually
from tests.fixtures.portfolios import account_row, xlsx_bytes
from tests.integration.matching.helpers import new_region, register
from visits.models import Visit

Sessionmaker = async_sessionmaker[AsyncSession]

QUESTIONS = {
    "type": "object",
    "properties": {"works": {"type": "boolean", "title": "¿El titular trabaja?"}},
    "required": ["works"],
}


@dataclass(frozen=True)
class Services:
    ingest: httpx.AsyncClient
    matching: httpx.AsyncClient
    visits: httpx.AsyncClient


@dataclass(frozen=True)
class LaunchedVisit:
    tenant: CreatedTenant
    campaign_id: str
    account_key: str
    visit_id: uuid.UUID
    agent_id: uuid.UUID
    where: GeoPoint

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.tenant.api_key.key}

    @property
    def agent_headers(self) -> dict[str, str]:
        secret = ServiceSettings().agent_token_secret.get_secret_value()
        token = issue_agent_token(self.agent_id, secret=secret)
        return {"Authorization": f"Bearer {token}"}


def campaign_body(**selection: Any) -> dict[str, Any]:
    return {
        "name": "Cartera con retiro",
        "objective": {"kind": "negotiate", "details": "Negociar el pago vencido"},
        "questions": QUESTIONS,
        "negotiation": {"max_discount_pct": "15", "installment_counts": [3, 6]},
        "creditor": {
            "creditor_name": "Financiera Ejemplo",
            "payment": {"bank": "BBVA", "reference": "REF-123"},
        },
        "fee_amount": "120.00",
        "deadline": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "selection": selection,
    }


async def launch_one_visit(
    services: Services, sessionmaker: Sessionmaker, tenant: CreatedTenant
) -> LaunchedVisit:
    """Upload one account, register one agent on it, launch, accept its offer.

    The campaign keeps the default dispatch mode, so the agent takes the visit
    by accepting the offer through matching's API, as the agent app does.
    """
    where = new_region().point()
    key = f"W-{uuid.uuid4().hex[:8]}"
    headers = {"X-API-Key": tenant.api_key.key}
    content = xlsx_bytes([account_row(key, lat=where.lat, lon=where.lon)])
    uploaded = await services.ingest.post(
        "/uploads", headers=headers, files={"file": ("cartera.xlsx", content)}
    )
    assert uploaded.status_code == 201, uploaded.text
    agent = await register(sessionmaker, where, daily_capacity=1)
    created = await services.ingest.post(
        "/campaigns", headers=headers, json=campaign_body(account_keys=[key])
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["campaign_id"]
    launched = await services.ingest.post(
        f"/campaigns/{campaign_id}/launch", headers=headers
    )
    assert launched.status_code == 200, launched.text
    [visit_id] = await campaign_visit_ids(sessionmaker, campaign_id)
    launched = LaunchedVisit(tenant, campaign_id, key, visit_id, agent.agent_id, where)
    await accept_offer(services, launched.agent_headers, visit_id)
    await wait_for_visit(sessionmaker, visit_id, "assigned")
    return launched


async def accept_offer(
    services: Services, agent_headers: dict[str, str], visit_id: uuid.UUID
) -> None:
    """Wait for the agent's offer of the visit in matching, and accept it."""
    offer_id = await eventually(
        lambda: _offer_of(services.matching, agent_headers, visit_id),
        message="offer made to the agent",
    )
    accepted = await services.matching.post(
        f"/offers/{offer_id}/accept", headers=agent_headers
    )
    assert accepted.status_code == 201, accepted.text


async def _offer_of(
    matching: httpx.AsyncClient, headers: dict[str, str], visit_id: uuid.UUID
) -> str | None:
    response = await matching.get("/agents/me/offers", headers=headers)
    assert response.status_code == 200, response.text
    found = [o for o in response.json() if o["visit_id"] == str(visit_id)]
    return found[0]["offer_id"] if found else None


async def campaign_visit_ids(
    sessionmaker: Sessionmaker, campaign_id: str
) -> list[uuid.UUID]:
    """Return the campaign's visit ids in the order ingest requested them."""
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(CampaignVisit.visit_id)
            .where(CampaignVisit.campaign_id == uuid.UUID(campaign_id))
            .order_by(CampaignVisit.requested_at, CampaignVisit.attempt)
        )
        return list(rows)


async def wait_for_visit(
    sessionmaker: Sessionmaker, visit_id: uuid.UUID, state: str
) -> Visit:
    async def reached() -> Visit | None:
        async with sessionmaker() as session:
            visit = await session.get(Visit, visit_id)
        return visit if visit is not None and visit.state == state else None

    return await eventually(reached, message=f"visit {visit_id} {state}")


async def matching_state(
    sessionmaker: Sessionmaker, visit_id: uuid.UUID
) -> tuple[str | None, list[str]]:
    """Return the request's state and its assignments' states in matching."""
    async with sessionmaker() as session:
        request = await session.get(VisitRequest, visit_id)
        assignments = await session.scalars(
            select(Assignment.state).where(Assignment.visit_id == visit_id)
        )
        return (request.state if request else None), list(assignments)


async def agent_load(sessionmaker: Sessionmaker, agent_id: uuid.UUID) -> int:
    async with sessionmaker() as session:
        loads = await session.scalars(
            select(AgentDailyLoad.assigned).where(AgentDailyLoad.agent_id == agent_id)
        )
        return sum(loads)
