import asyncio
import threading
import uuid
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching import itinerary
from matching.dispatch import Emit
from matching.route import DayPlan, DayRoute, plan_route
from matching.service import accept_visit_request
from matching.settings import MatchingSettings
from shared.errors import PROBLEM_CONTENT_TYPE
from shared.events.payloads import GeoPoint
from tests.integration.matching.helpers import (
    Region,
    bearer,
    register,
    visit_requested,
)

Sessionmaker = async_sessionmaker[AsyncSession]
MEXICO_CITY = ZoneInfo("America/Mexico_City")
WEEKDAYS = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


def tomorrow() -> date:
    """Tomorrow in Mexico City, the zone of an agent with no schedule."""
    return datetime.now(MEXICO_CITY).date() + timedelta(days=1)


async def _assign(
    sessionmaker: Sessionmaker,
    emit: Emit,
    where: GeoPoint,
    *,
    deadline: datetime | None = None,
) -> uuid.UUID:
    """Request a visit with no dispatch policy, so the nearest agent takes it."""
    request = visit_requested(where, deadline=deadline)
    async with sessionmaker() as session, session.begin():
        await accept_visit_request(
            session, request, emit=emit, settings=MatchingSettings(visiting_hours=False)
        )
    return request.visit_id


class TestAgentRoute:
    async def test_orders_the_visits_with_arrivals_in_legal_hours(
        self,
        matching: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        region: Region,
        emit: Emit,
    ) -> None:
        agent = await register(sessionmaker, region.point(), travel_mode="motorcycle")
        # Accepted out of order: 3 km, then 1 km, then 2 km north of the base.
        far, near, middle = [
            await _assign(sessionmaker, emit, region.point(north_m=m))
            for m in (3000, 1000, 2000)
        ]
        day = tomorrow()

        response = await matching.get(
            "/agents/me/route",
            params={"date": day.isoformat()},
            headers=bearer(agent.token),
        )

        assert response.status_code == 200, response.text
        route = response.json()
        # Out and back along a line, several orders are as short; the
        # acceptance order (3, 1, 2 km, then home) would be 10.4 km.
        assert {s["visit_id"] for s in route["stops"]} == {
            str(far),
            str(near),
            str(middle),
        }
        arrivals = [datetime.fromisoformat(s["arrival"]) for s in route["stops"]]
        # No zone on the requests: the first knock waits for 07:00 in Tijuana,
        # the last zone of Mexico to reach it.
        opening = datetime.combine(day, time(7), ZoneInfo("America/Tijuana"))
        assert arrivals[0] == opening
        assert arrivals == sorted(arrivals)
        assert all(b - a >= timedelta(minutes=20) for a, b in pairwise(arrivals))
        legs = [s["leg_m"] for s in route["stops"]]
        assert route["distance_m"] == sum(legs) + route["return_leg_m"]
        assert route["distance_m"] == pytest.approx(7800, abs=30)
        assert route["start"]["source"] == "base"
        assert route["not_today"] == []
        assert {s["colonia"] for s in route["stops"]} == {"Centro"}
        assert "debtor_name" not in response.text
        assert "Calle Falsa" not in response.text

    async def test_visit_due_before_day_opens(
        self,
        matching: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        region: Region,
        emit: Emit,
    ) -> None:
        agent = await register(sessionmaker, region.point())
        day = tomorrow()
        # Due at 05:00 tomorrow in Mexico City, before any legal hour.
        due = datetime.combine(day, time(5), MEXICO_CITY)
        early = await _assign(
            sessionmaker, emit, region.point(north_m=500), deadline=due
        )
        later = await _assign(sessionmaker, emit, region.point(east_m=500))

        response = await matching.get(
            "/agents/me/route",
            params={"date": day.isoformat()},
            headers=bearer(agent.token),
        )

        route = response.json()
        assert [s["visit_id"] for s in route["stops"]] == [str(later)]
        assert route["not_today"] == [
            {
                "visit_id": str(early),
                "colonia": "Centro",
                "municipality": "Cuauhtémoc",
                "reason": "outside_hours",
            }
        ]

    async def test_today_starts_from_a_fresh_location(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point())
        here = region.point(east_m=4000)
        fix = {
            "lat": here.lat,
            "lon": here.lon,
            "accuracy_m": 10,
            "recorded_at": datetime.now(UTC).isoformat(),
        }
        put = await matching.put(
            "/agents/me/location", json=fix, headers=bearer(agent.token)
        )
        assert put.status_code == 204, put.text

        response = await matching.get("/agents/me/route", headers=bearer(agent.token))

        route = response.json()
        assert route["date"] == datetime.now(MEXICO_CITY).date().isoformat()
        assert route["start"]["source"] == "last_location"
        assert route["start"]["lat"] == pytest.approx(here.lat)
        assert (route["stops"], route["distance_m"]) == ([], 0)

    @pytest.mark.parametrize("value", ["2026-02-30", "tomorrow", "2026-3-1"])
    async def test_bad_date_is_a_problem(
        self,
        matching: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        region: Region,
        value: str,
    ) -> None:
        agent = await register(sessionmaker, region.point())
        response = await matching.get(
            "/agents/me/route", params={"date": value}, headers=bearer(agent.token)
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
        assert "date" in response.json()["detail"]

    async def test_past_date_is_a_problem(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point())
        yesterday = tomorrow() - timedelta(days=2)
        response = await matching.get(
            "/agents/me/route",
            params={"date": yesterday.isoformat()},
            headers=bearer(agent.token),
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
        assert "past" in response.json()["detail"]

    @pytest.mark.parametrize("day", ["9999-12-31", "9999-12-30"])
    async def test_date_past_the_horizon_is_a_problem(
        self,
        matching: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        region: Region,
        emit: Emit,
        day: str,
    ) -> None:
        agent = await register(sessionmaker, region.point())
        # Night windows every day, in the zone whose clock runs furthest ahead.
        night = [{"start": "22:00", "end": "06:00"}]
        week = {name: night for name in WEEKDAYS}
        put = await matching.put(
            "/agents/me/schedule",
            json={"time_zone": "Pacific/Kiritimati", "week": week},
            headers=bearer(agent.token),
        )
        assert put.status_code == 204, put.text
        await _assign(sessionmaker, emit, region.point(north_m=500))
        response = await matching.get(
            "/agents/me/route", params={"date": day}, headers=bearer(agent.token)
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
        assert "date" in response.json()["detail"]
        assert "366 days" in response.json()["detail"]

    async def test_last_day_of_the_horizon_is_planned(
        self,
        matching: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        region: Region,
        emit: Emit,
    ) -> None:
        agent = await register(sessionmaker, region.point())
        await _assign(sessionmaker, emit, region.point(north_m=500))
        last = datetime.now(MEXICO_CITY).date() + timedelta(days=366)
        response = await matching.get(
            "/agents/me/route",
            params={"date": last.isoformat()},
            headers=bearer(agent.token),
        )
        assert response.status_code == 200, response.text

    async def test_needs_an_agent_token(self, matching: httpx.AsyncClient) -> None:
        response = await matching.get("/agents/me/route")
        assert response.status_code == 401


class TestSolveOffTheLoop:
    async def test_health_answers_during_a_solve(
        self,
        matching: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        region: Region,
        emit: Emit,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        agent = await register(sessionmaker, region.point())
        await _assign(sessionmaker, emit, region.point(north_m=500))
        solving, answered = threading.Event(), threading.Event()

        def solve_after_health(plan: DayPlan) -> DayRoute:
            # Holds the solve until /health has answered, which it cannot
            # while the solve runs on the event loop.
            solving.set()
            if not answered.wait(timeout=5):
                raise TimeoutError("/health did not answer during the solve")
            return plan_route(plan)

        monkeypatch.setattr(itinerary, "plan_route", solve_after_health)
        route = asyncio.create_task(
            matching.get(
                "/agents/me/route",
                params={"date": tomorrow().isoformat()},
                headers=bearer(agent.token),
            )
        )
        # Waits in a thread, so that a solve on another thread can start.
        assert await asyncio.to_thread(solving.wait, 5)

        health = await matching.get("/health")
        answered.set()

        assert health.status_code == 200
        assert (await route).status_code == 200
