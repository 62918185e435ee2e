"""A visit given back in matching goes to another agent, and visits follows."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from matching.models import Assignment
from shared.auth import issue_agent_token
from shared.settings import ServiceSettings
from tests.fixtures.apps import eventually
from tests.fixtures.tenants import make_tenant
from tests.integration.campaigns.helpers import (
    Services,
    Sessionmaker,
    accept_offer,
    agent_load,
    launch_one_visit,
    wait_for_visit,
)
from tests.integration.matching.helpers import register


def _headers(agent_id: uuid.UUID) -> dict[str, str]:
    secret = ServiceSettings().agent_token_secret.get_secret_value()
    return {"Authorization": f"Bearer {issue_agent_token(agent_id, secret=secret)}"}


def _check_in_body(lat: float, lon: float) -> dict[str, Any]:
    return {
        "lat": lat,
        "lon": lon,
        "accuracy_m": 10,
        "device_time": datetime.now(UTC).isoformat(),
    }


async def _checked_in_in_matching(
    sessionmaker: Sessionmaker, visit_id: uuid.UUID, agent_id: uuid.UUID
) -> bool:
    async with sessionmaker() as session:
        checked_in_at = await session.scalar(
            select(Assignment.checked_in_at).where(
                Assignment.visit_id == visit_id,
                Assignment.agent_id == agent_id,
                Assignment.state == "active",
            )
        )
    return checked_in_at is not None


class TestGivenBack:
    async def test_next_agent_takes_the_visit(
        self, services: Services, sessionmaker: Sessionmaker
    ) -> None:
        launched = await launch_one_visit(services, sessionmaker, await make_tenant())
        visit_path = f"/agent/visits/{launched.visit_id}"
        where = launched.where
        nearby = await register(sessionmaker, where, daily_capacity=1)
        nearby_headers = _headers(nearby.agent_id)

        released = await services.matching.post(
            f"/assignments/{launched.visit_id}/release",
            headers=launched.agent_headers,
            json={"reason": "cannot_reach"},
        )
        assert released.status_code == 200, released.text
        waiting = await wait_for_visit(sessionmaker, launched.visit_id, "requested")
        rejected = await services.visits.post(
            f"{visit_path}/check-in",
            headers=launched.agent_headers,
            json=_check_in_body(where.lat, where.lon),
        )
        await accept_offer(services, nearby_headers, launched.visit_id)
        reassigned = await wait_for_visit(sessionmaker, launched.visit_id, "assigned")
        arrived = await services.visits.post(
            f"{visit_path}/check-in",
            headers=nearby_headers,
            json=_check_in_body(where.lat, where.lon),
        )
        await eventually(
            lambda: _checked_in_in_matching(
                sessionmaker, launched.visit_id, nearby.agent_id
            ),
            message="check-in reached matching",
        )
        too_late = await services.matching.post(
            f"/assignments/{launched.visit_id}/release",
            headers=nearby_headers,
            json={"reason": "personal"},
        )

        assert waiting.agent_id is None
        assert await agent_load(sessionmaker, launched.agent_id) == 0
        assert rejected.status_code == 409, rejected.text
        assert rejected.json()["current_state"] == "requested"
        assert rejected.json()["release_reason"] == "cannot_reach"
        assert reassigned.agent_id == nearby.agent_id
        assert arrived.status_code == 201, arrived.text
        assert too_late.status_code == 409, too_late.text
        assert too_late.json()["type"].endswith("/visit-under-way")
