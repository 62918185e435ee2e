import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from shared.events.payloads import GeoPoint
from tests.integration.visits.helpers import (
    ZOCALO,
    Sessionmaker,
    agent_headers,
    assigned_visit,
    check_in_body,
    checked_in_visit,
    event_types,
    haversine_m,
    offset,
    result_body,
    visit_events,
    visit_row,
)
from visits.models import CheckIn


async def _check_ins(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> list[CheckIn]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(CheckIn)
            .where(CheckIn.visit_id == visit_id)
            .order_by(CheckIn.server_time)
        )
        return list(rows.all())


class TestCheckIn:
    async def test_near_fix_verified(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        agent_visit = await assigned_visit(visits)
        near = offset(ZOCALO, north_m=40)
        response = await visits.post(
            f"{agent_visit.path}/check-in",
            json=check_in_body(near),
            headers=agent_visit.headers,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["state"] == "checked_in"
        assert body["verified"] is True
        assert body["distance_m"] == pytest.approx(haversine_m(ZOCALO, near), rel=0.01)
        row = await visit_row(sessionmaker, agent_visit.request.visit_id)
        assert row is not None
        assert row.state == "checked_in"
        events = await visit_events(sessionmaker, agent_visit.request.visit_id)
        assert event_types(events) == ["campo.visit.assigned", "campo.visit.checked_in"]
        assert events[1].data["verified"] is True

    async def test_far_fix_recorded_unverified(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        agent_visit = await assigned_visit(visits)
        far = offset(ZOCALO, north_m=1800, east_m=-2500)
        response = await visits.post(
            f"{agent_visit.path}/check-in",
            json=check_in_body(far),
            headers=agent_visit.headers,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        expected = haversine_m(ZOCALO, far)
        assert expected > 3000
        assert body["verified"] is False
        assert body["state"] == "checked_in"
        assert body["distance_m"] == pytest.approx(expected, rel=0.01)
        [stored] = await _check_ins(sessionmaker, agent_visit.request.visit_id)
        assert stored.distance_m == pytest.approx(expected, rel=0.01)
        assert stored.verified is False

    async def test_inaccurate_fix_unverified(self, visits: httpx.AsyncClient) -> None:
        agent_visit = await assigned_visit(visits)
        near = offset(ZOCALO, north_m=40)
        response = await visits.post(
            f"{agent_visit.path}/check-in",
            json=check_in_body(near, accuracy_m=1600),
            headers=agent_visit.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["verified"] is False
        assert response.json()["distance_m"] < 150

    async def test_mock_location_unverified(self, visits: httpx.AsyncClient) -> None:
        agent_visit = await assigned_visit(visits)
        response = await visits.post(
            f"{agent_visit.path}/check-in",
            json=check_in_body(mock_location=True),
            headers=agent_visit.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["verified"] is False

    async def test_second_check_in_recorded_once_announced(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        second = GeoPoint(lat=ZOCALO.lat + 0.0001, lon=ZOCALO.lon)
        response = await visits.post(
            f"{agent_visit.path}/check-in",
            json=check_in_body(second),
            headers=agent_visit.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["state"] == "checked_in"
        assert len(await _check_ins(sessionmaker, agent_visit.request.visit_id)) == 2
        events = await visit_events(sessionmaker, agent_visit.request.visit_id)
        assert event_types(events).count("campo.visit.checked_in") == 1

    async def test_device_time_ahead_rejected(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        agent_visit = await assigned_visit(visits)
        ahead = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
        response = await visits.post(
            f"{agent_visit.path}/check-in",
            json=check_in_body(device_time=ahead),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["location"] == "body.device_time"
        assert "device_time" in response.json()["detail"]
        assert await _check_ins(sessionmaker, agent_visit.request.visit_id) == []

    async def test_device_time_too_old_rejected(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await assigned_visit(visits)
        old = (datetime.now(UTC) - timedelta(hours=73)).isoformat()
        response = await visits.post(
            f"{agent_visit.path}/check-in",
            json=check_in_body(device_time=old),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422
        assert "device_time" in response.json()["detail"]

    async def test_naive_device_time_rejected(self, visits: httpx.AsyncClient) -> None:
        agent_visit = await assigned_visit(visits)
        response = await visits.post(
            f"{agent_visit.path}/check-in",
            json=check_in_body(device_time="2026-03-10T12:00:00"),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["location"] == "body.device_time"

    async def test_other_agents_visit_not_found(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await assigned_visit(visits)
        response = await visits.post(
            f"{agent_visit.path}/check-in",
            json=check_in_body(),
            headers=agent_headers(uuid.uuid4()),
        )
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    async def test_check_in_after_completion_conflicts(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        result = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(),
            headers=agent_visit.headers,
        )
        assert result.status_code == 201, result.text
        response = await visits.post(
            f"{agent_visit.path}/check-in",
            json=check_in_body(),
            headers=agent_visit.headers,
        )
        assert response.status_code == 409
        assert response.json()["current_state"] == "completed"

    @pytest.mark.parametrize("field", ["lat", "lon", "accuracy_m"])
    @pytest.mark.parametrize("literal", ["NaN", "Infinity"])
    async def test_non_finite_number_rejected(
        self, field: str, literal: str, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await assigned_visit(visits)
        body = check_in_body() | {field: 1.5}
        content = json.dumps(body).replace(f'"{field}": 1.5', f'"{field}": {literal}')
        response = await visits.post(
            f"{agent_visit.path}/check-in",
            content=content,
            headers=agent_visit.headers | {"content-type": "application/json"},
        )
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["location"] == f"body.{field}"
        assert "finite number" in error["message"]

    async def test_missing_token_unauthorized(self, visits: httpx.AsyncClient) -> None:
        response = await visits.post(
            f"/agent/visits/{uuid.uuid4()}/check-in", json=check_in_body()
        )
        assert response.status_code == 401
