import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching import repository
from matching.models import Agent, AgentWorkingHours, Assignment
from matching.repository.agents import works_between
from matching.schedule import Window, works_before
from shared.auth import issue_agent_token
from shared.errors import PROBLEM_CONTENT_TYPE
from shared.events import topics
from shared.events.payloads import DispatchPolicy, VisitUnmatched
from shared.settings import ServiceSettings
from tests.fixtures.events import publish
from tests.integration.matching.helpers import (
    Region,
    bearer,
    only_event,
    read_events_for,
    register,
    visit_requested,
)

Sessionmaker = async_sessionmaker[AsyncSession]
MEXICO_CITY = "America/Mexico_City"
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
WEEKDAYS.append("sunday")


def _shift(start: datetime, hours: float, zone: str = MEXICO_CITY) -> dict:
    """A schedule with one window from `start` for `hours`, in `zone`."""
    local = start.astimezone(ZoneInfo(zone))
    end = local + timedelta(hours=hours)
    window = {"start": f"{local:%H:%M}", "end": f"{end:%H:%M}"}
    return {"time_zone": zone, "week": {WEEKDAYS[local.weekday()]: [window]}}


async def _put_schedule(
    matching: httpx.AsyncClient, token: str, schedule: dict
) -> None:
    response = await matching.put(
        "/agents/me/schedule", json=schedule, headers=bearer(token)
    )
    assert response.status_code == 204, response.text


class TestScheduleFiltersCandidates:
    async def test_agent_off_until_after_the_deadline_is_skipped(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        now = datetime.now(UTC)
        later = await register(sessionmaker, region.point(east_m=200))
        await _put_schedule(matching, later.token, _shift(now + timedelta(hours=3), 2))
        always = await register(sessionmaker, region.point(east_m=3000))
        soon = visit_requested(region.point(), deadline=now + timedelta(hours=2))

        await publish([soon])
        events = await read_events_for(topics.ASSIGNMENTS, {str(soon.visit_id)})

        assert only_event(events, soon.visit_id).data["agent_id"] == str(
            always.agent_id
        )

    async def test_shift_before_deadline_gets_offer(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        now = datetime.now(UTC)
        later = await register(sessionmaker, region.point(east_m=200))
        await _put_schedule(matching, later.token, _shift(now + timedelta(hours=3), 2))
        await register(sessionmaker, region.point(east_m=3000))
        request = visit_requested(region.point(), deadline=now + timedelta(hours=5))

        await publish([request])
        events = await read_events_for(topics.ASSIGNMENTS, {str(request.visit_id)})

        assert only_event(events, request.visit_id).data["agent_id"] == str(
            later.agent_id
        )

    async def test_agent_working_now_gets_it(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        now = datetime.now(UTC)
        working = await register(sessionmaker, region.point(east_m=200))
        await _put_schedule(
            matching, working.token, _shift(now - timedelta(hours=1), 3, "Asia/Tokyo")
        )
        request = visit_requested(region.point(), deadline=now + timedelta(hours=1))

        await publish([request])
        events = await read_events_for(topics.ASSIGNMENTS, {str(request.visit_id)})

        assert only_event(events, request.visit_id).data["agent_id"] == str(
            working.agent_id
        )

    async def test_only_agent_off_past_deadline_unmatched(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        now = datetime.now(UTC)
        later = await register(sessionmaker, region.point(east_m=200))
        await _put_schedule(matching, later.token, _shift(now + timedelta(hours=3), 2))
        request = visit_requested(
            region.point(),
            deadline=now + timedelta(hours=2),
            dispatch=DispatchPolicy(),
        )

        await publish([request])
        events = await read_events_for(topics.ASSIGNMENTS, {str(request.visit_id)})

        envelope = only_event(events, request.visit_id)
        assert envelope.type == VisitUnmatched.event_type
        assert envelope.data["reason"] == "out_of_coverage"


async def test_offline_agent_gets_no_offer(
    matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
) -> None:
    gone = await register(sessionmaker, region.point(east_m=200))
    response = await matching.put(
        "/agents/me/status", json={"status": "offline"}, headers=bearer(gone.token)
    )
    assert response.status_code == 204, response.text
    online = await register(sessionmaker, region.point(east_m=3000))
    request = visit_requested(region.point(), dispatch=DispatchPolicy())

    await publish([request])
    events = await read_events_for(topics.ASSIGNMENTS, {str(request.visit_id)})

    assert only_event(events, request.visit_id).data["agent_id"] == str(online.agent_id)
    offers = await matching.get("/agents/me/offers", headers=bearer(gone.token))
    assert offers.json() == []


class TestOwnApiProblems:
    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("/agents/me/status", {"status": "online"}),
            (
                "/agents/me/location",
                {
                    "lat": 1,
                    "lon": 1,
                    "accuracy_m": 5,
                    "recorded_at": "2026-01-01T00:00Z",
                },
            ),
            ("/agents/me/schedule", {"time_zone": "UTC", "week": {}}),
        ],
    )
    async def test_missing_token_is_401(
        self, matching: httpx.AsyncClient, path: str, body: dict
    ) -> None:
        response = await matching.put(path, json=body)

        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE

    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("/agents/me/status", {"status": "offline"}),
            (
                "/agents/me/location",
                {"lat": 1, "lon": 1, "accuracy_m": 5, "recorded_at": "now"},
            ),
            (
                "/agents/me/schedule",
                {
                    "time_zone": MEXICO_CITY,
                    "week": {"monday": [{"start": "09:00", "end": "17:00"}]},
                },
            ),
        ],
    )
    async def test_unregistered_agent_is_404(
        self, matching: httpx.AsyncClient, path: str, body: dict
    ) -> None:
        secret = ServiceSettings().agent_token_secret.get_secret_value()
        token = issue_agent_token(uuid.uuid4(), secret=secret)
        if body.get("recorded_at") == "now":
            body = body | {"recorded_at": datetime.now(UTC).isoformat()}

        response = await matching.put(path, json=body, headers=bearer(token))

        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE

    @pytest.mark.parametrize(
        ("path", "body", "named"),
        [
            ("/agents/me/status", {"status": "suspended"}, "status"),
            ("/agents/me/status", {}, "status"),
            (
                "/agents/me/location",
                {"lat": 91, "lon": 0, "accuracy_m": 5, "recorded_at": "now"},
                "lat",
            ),
            (
                "/agents/me/location",
                {"lat": 0, "lon": 0, "accuracy_m": 0, "recorded_at": "now"},
                "accuracy_m",
            ),
            (
                "/agents/me/location",
                {"lat": 0, "lon": 0, "accuracy_m": 5, "recorded_at": "future"},
                "in the future",
            ),
            (
                "/agents/me/location",
                {
                    "lat": 0,
                    "lon": 0,
                    "accuracy_m": 5,
                    "recorded_at": "2026-12-01T10:00",
                },
                "timezone",
            ),
            (
                "/agents/me/schedule",
                {"time_zone": "Mexico/Narnia", "week": {"monday": []}},
                "Mexico/Narnia",
            ),
            (
                "/agents/me/schedule",
                {
                    "time_zone": MEXICO_CITY,
                    "week": {"monday": [{"start": "09:00", "end": "09:00"}]},
                },
                "empty",
            ),
        ],
    )
    async def test_invalid_body_is_422_naming_the_problem(
        self,
        matching: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        region: Region,
        path: str,
        body: dict,
        named: str,
    ) -> None:
        agent = await register(sessionmaker, region.point())
        times = {
            "now": datetime.now(UTC),
            "future": datetime.now(UTC) + timedelta(hours=1),
        }
        if body.get("recorded_at") in times:
            body = body | {"recorded_at": times[body["recorded_at"]].isoformat()}

        response = await matching.put(path, json=body, headers=bearer(agent.token))

        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
        assert named in response.text

    async def test_suspended_agent_cannot_go_online(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point(), status="suspended")

        response = await matching.put(
            "/agents/me/status", json={"status": "online"}, headers=bearer(agent.token)
        )

        assert response.status_code == 409
        assert response.json()["type"].endswith("/agent-suspended")
        async with sessionmaker() as session:
            stored = await session.get(Agent, agent.agent_id)
            assert stored is not None
            assert stored.status == "suspended"


class TestProfile:
    async def test_profile_shows_schedule_location_and_rates(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=100))
        headers = bearer(agent.token)
        await _put_schedule(
            matching,
            agent.token,
            {
                "time_zone": MEXICO_CITY,
                "week": {
                    "monday": [
                        {"start": "14:00", "end": "18:00"},
                        {"start": "08:00", "end": "12:00"},
                    ],
                    "friday": [{"start": "22:00", "end": "04:00"}],
                },
            },
        )
        await _put_schedule(
            matching, agent.token, _shift(datetime.now(UTC) - timedelta(hours=1), 4)
        )
        fixed_at = datetime.now(UTC) - timedelta(minutes=1)
        where = region.point(north_m=50)
        location = {
            "lat": where.lat,
            "lon": where.lon,
            "accuracy_m": 12.5,
            "recorded_at": fixed_at.isoformat(),
        }
        response = await matching.put(
            "/agents/me/location", json=location, headers=headers
        )
        assert response.status_code == 204, response.text
        older = location | {
            "lat": 0.0,
            "recorded_at": (fixed_at - timedelta(minutes=5)).isoformat(),
        }
        response = await matching.put(
            "/agents/me/location", json=older, headers=headers
        )
        assert response.status_code == 204, response.text

        fresh = (await matching.get("/agents/me", headers=headers)).json()
        assert fresh["acceptance_rate"] is None
        assert fresh["completion_rate"] is None
        assert fresh["time_zone"] == MEXICO_CITY
        windows = [w for day in fresh["schedule"].values() for w in day]
        assert len(windows) == 1
        assert list(fresh["schedule"]) == WEEKDAYS
        last = fresh["last_location"]
        assert last["lat"] == pytest.approx(where.lat)
        assert last["accuracy_m"] == 12.5
        assert datetime.fromisoformat(last["recorded_at"]) == fixed_at

        requests = [visit_requested(region.point()) for _ in range(2)]
        await publish(requests)
        await read_events_for(topics.ASSIGNMENTS, {str(r.visit_id) for r in requests})
        declined_request = visit_requested(region.point(), dispatch=DispatchPolicy())
        await publish([declined_request])
        await read_events_for(topics.ASSIGNMENTS, {str(declined_request.visit_id)})
        [offer] = (await matching.get("/agents/me/offers", headers=headers)).json()
        response = await matching.post(
            f"/offers/{offer['offer_id']}/decline",
            json={"reason": "no_time"},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        async with sessionmaker() as session, session.begin():
            for visit, state in zip(requests, ["done", "released"], strict=True):
                await session.execute(
                    update(Assignment)
                    .where(Assignment.visit_id == visit.visit_id)
                    .values(state=state)
                )

        profile = (await matching.get("/agents/me", headers=headers)).json()
        assert profile["acceptance_rate"] == pytest.approx(2 / 3)
        assert profile["completion_rate"] == pytest.approx(1 / 2)


@pytest.mark.parametrize(
    ("zone", "windows", "now", "deadline"),
    [
        # The start in the hour skipped by the spring change, read as 03:30.
        ("America/Chicago", [(7, "02:30", "04:00")], (3, 8, 7), (3, 8, 8, 29)),
        ("America/Chicago", [(7, "02:30", "04:00")], (3, 8, 7), (3, 8, 8, 31)),
        # The start in the hour repeated in autumn, read as its second time.
        ("America/Chicago", [(7, "01:30", "03:00")], (11, 1, 6), (11, 1, 7, 29)),
        ("America/Chicago", [(7, "01:30", "03:00")], (11, 1, 6), (11, 1, 7, 31)),
        # An overnight window over the spring change ends at 06:00 CDT.
        ("America/Chicago", [(6, "22:00", "06:00")], (3, 8, 10, 59), (3, 8, 11)),
        ("America/Chicago", [(6, "22:00", "06:00")], (3, 8, 11), (3, 8, 12)),
        # Sunday night into Monday, and a deadline more than a week away.
        ("America/Mexico_City", [(7, "20:00", "02:00")], (12, 7, 7), (12, 7, 7, 1)),
        ("America/Mexico_City", [(3, "09:00", "10:00")], (12, 3, 17), (12, 20)),
        ("America/Mexico_City", [(3, "09:00", "10:00")], (12, 3, 17), (12, 9, 15)),
    ],
)
async def test_sql_agrees_with_python(
    sessionmaker: Sessionmaker,
    region: Region,
    zone: str,
    windows: list[tuple[int, str, str]],
    now: tuple[int, ...],
    deadline: tuple[int, ...],
) -> None:
    agent = await register(sessionmaker, region.point())
    parsed = [
        Window(day, time.fromisoformat(start), time.fromisoformat(end))
        for day, start, end in windows
    ]
    at = datetime(2026, *now, tzinfo=UTC)
    until = datetime(2026, *deadline, tzinfo=UTC)
    async with sessionmaker() as session, session.begin():
        for window in parsed:
            session.add(
                AgentWorkingHours(
                    agent_id=agent.agent_id,
                    weekday=window.weekday,
                    start_time=window.start,
                    end_time=window.end,
                )
            )
        await session.flush()
        in_sql = await session.scalar(
            select(func.matching.agent_works_between(agent.agent_id, zone, at, until))
        )
        await repository.set_agent_columns(session, agent.agent_id, time_zone=zone)
        in_query = await session.scalar(
            select(works_between(literal(at), until=literal(until))).where(
                Agent.agent_id == agent.agent_id
            )
        )

    in_python = works_before(parsed, ZoneInfo(zone), at, until)
    assert in_sql == in_python
    assert in_query == in_python


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return _run("matching.cli", *args)


def _run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )


async def test_operator_verifies_suspends_and_reinstates(
    sessionmaker: Sessionmaker, region: Region
) -> None:
    agent = await register(sessionmaker, region.point(), verified=False)

    for command, expected in [
        ("verify", (True, "online")),
        ("suspend", (True, "suspended")),
        ("reinstate", (True, "offline")),
    ]:
        result = _run_cli("agents", command, str(agent.agent_id))
        assert result.returncode == 0, result.stderr
        async with sessionmaker() as session:
            row = await session.get(Agent, agent.agent_id)
            assert row is not None
            assert (row.verified, row.status) == expected, command

    missing = _run_cli("agents", "suspend", str(uuid.uuid4()))
    assert missing.returncode != 0
    assert "not found" in missing.stderr


def _square_around(
    region: Region, north_m: float, east_m: float, half_m: float
) -> dict:
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)]
    ring = []
    for dn, de in corners:
        point = region.point(north_m=north_m + dn * half_m, east_m=east_m + de * half_m)
        ring.append([point.lon, point.lat])
    return {"type": "Polygon", "coordinates": [ring]}


class TestCoverageArea:
    async def test_visit_inside_the_area_is_assigned(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        area = _square_around(region, 2000, 2000, 1000)
        agent = await register(sessionmaker, region.point(), coverage_area=area)
        inside = visit_requested(region.point(north_m=2500, east_m=1500))

        await publish([inside])
        events = await read_events_for(topics.ASSIGNMENTS, {str(inside.visit_id)})

        assert only_event(events, inside.visit_id).data["agent_id"] == str(
            agent.agent_id
        )

    async def test_outside_area_inside_radius_not_offered(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        area = _square_around(region, 2000, 2000, 1000)
        await register(
            sessionmaker, region.point(), coverage_area=area, coverage_radius_m=10_000
        )
        outside = visit_requested(
            region.point(north_m=-2000), dispatch=DispatchPolicy()
        )

        await publish([outside])
        events = await read_events_for(topics.ASSIGNMENTS, {str(outside.visit_id)})

        envelope = only_event(events, outside.visit_id)
        assert envelope.type == VisitUnmatched.event_type
        assert envelope.data["reason"] == "out_of_coverage"

    async def test_area_then_back_to_radius(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point())
        headers = bearer(agent.token)
        area = _square_around(region, 0, 0, 3000)

        response = await matching.put(
            "/agents/me/coverage", json={"area": area}, headers=headers
        )
        assert response.status_code == 204, response.text
        profile = (await matching.get("/agents/me", headers=headers)).json()
        assert profile["coverage_area"]["type"] == "Polygon"
        ring = profile["coverage_area"]["coordinates"][0]
        assert ring[0] == pytest.approx(area["coordinates"][0][0])

        response = await matching.put(
            "/agents/me/coverage", json={"radius_m": 4000}, headers=headers
        )
        assert response.status_code == 204, response.text
        profile = (await matching.get("/agents/me", headers=headers)).json()
        assert profile["coverage_area"] is None
        assert profile["coverage_radius_m"] == 4000

    @pytest.mark.parametrize(
        ("body", "named"),
        [
            ({}, "either area or radius_m"),
            ({"radius_m": 0}, "radius_m"),
            ({"area": {"type": "LineString", "coordinates": []}}, "LineString"),
            ({"area": "open"}, "not closed"),
            ({"area": "bowtie"}, "Self-intersection"),
            ({"area": "far"}, "from the base"),
        ],
    )
    async def test_invalid_coverage_is_422_naming_the_problem(
        self,
        matching: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        region: Region,
        body: dict,
        named: str,
    ) -> None:
        agent = await register(sessionmaker, region.point())
        square = _square_around(region, 0, 0, 1000)["coordinates"][0]
        shapes = {
            "open": [[*square[:-1], square[1]]],
            "bowtie": [[square[0], square[2], square[1], square[3], square[0]]],
            "far": _square_around(region, 300_000, 0, 1000)["coordinates"],
        }
        if isinstance(body.get("area"), str):
            body = {"area": {"type": "Polygon", "coordinates": shapes[body["area"]]}}

        response = await matching.put(
            "/agents/me/coverage", json=body, headers=bearer(agent.token)
        )

        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
        assert named in response.text

    async def test_coverage_needs_a_token(self, matching: httpx.AsyncClient) -> None:
        response = await matching.put("/agents/me/coverage", json={"radius_m": 10})

        assert response.status_code == 401


async def test_campo_admin_suspends_an_agent(
    sessionmaker: Sessionmaker, region: Region
) -> None:
    agent = await register(sessionmaker, region.point())

    result = _run("ops.cli", "agent", "suspend", str(agent.agent_id))

    assert result.returncode == 0, result.stderr
    async with sessionmaker() as session:
        row = await session.get(Agent, agent.agent_id)
        assert row is not None
        assert row.status == "suspended"
