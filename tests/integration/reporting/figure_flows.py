"""A campaign flow spread over zones and two agents, with reviews and promises.

Built on the five visits of `CampaignFlow`. It adds addresses in three
municipalities, a reassignment of visit 4 to a second agent, a flagged
result and a deadline that visit 2 misses. Tests add review and promise
events from its builders.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from ingest.tenants import CreatedTenant
from shared.events import Payload
from shared.events.payloads import (
    Address,
    AppealOutcome,
    Money,
    PromiseStatusChanged,
    VisitAppealResolved,
    VisitAssigned,
    VisitCompleted,
    VisitRejected,
)
from tests.integration.reporting.helpers import CampaignFlow, auth

# Visit index -> (state, municipality, postal code).
ZONES = {
    0: ("Jalisco", "Guadalajara", "44100"),
    1: ("Jalisco", "Guadalajara", "44100"),
    2: ("Jalisco", "Zapopan", "45000"),
    3: ("Jalisco", "Zapopan", "45010"),
    4: ("Ciudad de México", "Coyoacán", "04000"),
}
FEE = Money(amount=Decimal("150.00"), currency="MXN")


@dataclass
class ZonedFlow(CampaignFlow):
    second_agent_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def requests(self) -> list[Payload]:
        requests: list[Payload] = []
        for index, (state, municipality, postal_code) in ZONES.items():
            address = Address(
                street="Calle 1",
                state=state,
                municipality=municipality,
                postal_code=postal_code,
            )
            update: dict[str, Any] = {"address": address}
            if index == 2:
                update["deadline"] = self.at(3 * 86400)
            requests.append(self.requested(index).model_copy(update=update))
        return requests

    def assignments(self) -> list[Payload]:
        # Visit 4 goes back and the second agent takes it after the first.
        handed_over = VisitAssigned(
            tenant_id=self.tenant_id,
            visit_id=self.visit_ids[4],
            campaign_id=self.campaign_id,
            account_id=self.account_ids[4],
            agent_id=self.second_agent_id,
            requested_at=self.t0,
            assigned_at=self.at(4000),
        )
        return [handed_over, *super().assignments()]

    def results(self) -> list[Payload]:
        results = super().results()
        flagged = results[1]
        assert isinstance(flagged, VisitCompleted)
        results[1] = flagged.model_copy(update={"fraud_score": 0.8, "flagged": True})
        return results

    def rejected(self, index: int, seconds: float) -> VisitRejected:
        return VisitRejected(
            **self._ids(index),
            agent_id=self.agent_id,
            attempt=1,
            reason="Foto de otra casa",
            fee=FEE,
            rejected_at=self.at(seconds),
        )

    def appeal_resolved(
        self, index: int, outcome: AppealOutcome, seconds: float
    ) -> VisitAppealResolved:
        return VisitAppealResolved(
            **self._ids(index),
            agent_id=self.agent_id,
            outcome=outcome,
            fee=FEE,
            resolved_at=self.at(seconds),
        )

    def promise(
        self, event: type[PromiseStatusChanged], paid: str, seconds: float
    ) -> PromiseStatusChanged:
        return event(
            **self._ids(0),
            promise_id=uuid.uuid5(self.campaign_id, "promise"),
            amount=Money(amount=Decimal("1500.00"), currency="MXN"),
            amount_paid=Money(amount=Decimal(paid), currency="MXN"),
            due_date=self.at(86400 * 10).date(),
            status=event.event_type.removeprefix("campo.promise."),
            changed_at=self.at(seconds),
        )

    def day_of(self, seconds: float, time_zone: str = "UTC") -> date:
        return self.at(seconds).astimezone(ZoneInfo(time_zone)).date()

    def _ids(self, index: int) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "visit_id": self.visit_ids[index],
            "campaign_id": self.campaign_id,
            "account_id": self.account_ids[index],
        }


async def get_json(
    client: httpx.AsyncClient,
    tenant: CreatedTenant,
    path: str,
    params: dict[str, str] | None = None,
) -> Any:
    response = await client.get(path, params=params, headers=auth(tenant))
    assert response.status_code == 200, response.text
    return response.json()


async def all_figures(
    client: httpx.AsyncClient, tenant: CreatedTenant, flow: CampaignFlow
) -> dict[str, Any]:
    """Read every figure endpoint of the flow's campaign and of its tenant."""
    campaign = f"/campaigns/{flow.campaign_id}"
    first = (flow.t0.date().replace(day=1)).isoformat()
    today = datetime.now(ZoneInfo("UTC")).date().isoformat()
    figures = {
        "summary": await get_json(client, tenant, f"{campaign}/summary"),
        "campaigns": await get_json(client, tenant, "/campaigns"),
        "agents": await get_json(client, tenant, f"{campaign}/agents"),
        "days": await get_json(
            client, tenant, f"{campaign}/days", {"from": first, "to": today}
        ),
        "leaderboard": await get_json(client, tenant, "/leaderboard"),
    }
    for level in ("state", "municipality", "postal_code"):
        figures[f"zones_{level}"] = await get_json(
            client, tenant, f"{campaign}/zones", {"level": level}
        )
    return figures
