"""Assignments given back, lapsed without a check-in, or lost on suspension."""

import asyncio
import json
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching.agents import RegisteredAgent
from matching.dispatch import DispatchOutcome, Emit
from matching.models import AgentDailyLoad, Assignment, Offer, VisitRequest
from matching.release import record_check_in, release_lapsed
from matching.settings import MatchingSettings
from shared.events import Envelope, topics
from shared.events.payloads import (
    AssignmentReleased,
    DispatchMode,
    DispatchPolicy,
    VisitCheckedIn,
)
from tests.fixtures.apps import eventually
from tests.fixtures.events import publish
from tests.integration.matching.helpers import (
    Region,
    bearer,
    read_events_for,
    register,
    visit_requested,
)

Sessionmaker = async_sessionmaker[AsyncSession]

# A wait far shorter than the check-in deadline: a released visit waits
# anew, so a visit that lapses after two days is still offered again.
OFFER = DispatchPolicy(
    mode=DispatchMode.OFFER, offer_timeout_seconds=600, max_wait_seconds=3600
)
BROADCAST = DispatchPolicy(
    mode=DispatchMode.BROADCAST,
    offer_timeout_seconds=600,
    broadcast_size=2,
    max_wait_seconds=3 * 86400,
)


async def _open_offer(
    client: httpx.AsyncClient, agent: RegisteredAgent, visit_id: uuid.UUID
) -> dict:
    """Wait until the agent has an open offer of the visit; return it."""

    async def probe() -> dict | None:
        response = await client.get("/agents/me/offers", headers=bearer(agent.token))
        assert response.status_code == 200, response.text
        found = [o for o in response.json() if o["visit_id"] == str(visit_id)]
        return found[0] if found else None

    return await eventually(probe, message=f"offer of visit {visit_id}")


async def _offered_to(
    sessionmaker: Sessionmaker, agent: RegisteredAgent, visit_id: uuid.UUID
) -> list[str]:
    async with sessionmaker() as session:
        states = await session.scalars(
            select(Offer.state).where(
                Offer.visit_id == visit_id, Offer.agent_id == agent.agent_id
            )
        )
        return list(states.all())


async def _held_by(
    client: httpx.AsyncClient, agent: RegisteredAgent, visit_id: uuid.UUID
) -> dict:
    """Accept the agent's offer of the visit once made; return the assignment."""
    offer = await _open_offer(client, agent, visit_id)
    accepted = await client.post(
        f"/offers/{offer['offer_id']}/accept", headers=bearer(agent.token)
    )
    assert accepted.status_code == 201, accepted.text
    return accepted.json()


async def _release(
    client: httpx.AsyncClient,
    agent: RegisteredAgent,
    visit_id: uuid.UUID,
    body: object = None,
) -> httpx.Response:
    return await client.post(
        f"/assignments/{visit_id}/release",
        headers=bearer(agent.token),
        json={"reason": "schedule_conflict", "note": "sick child"}
        if body is None
        else body,
    )


async def _assignments(
    sessionmaker: Sessionmaker, visit_id: uuid.UUID
) -> list[Assignment]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(Assignment)
            .where(Assignment.visit_id == visit_id)
            .order_by(Assignment.assigned_at)
        )
        return list(rows.all())


async def _active_count(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(
                Assignment.visit_id == visit_id, Assignment.state == "active"
            )
        )
    return count or 0


async def _load(sessionmaker: Sessionmaker, agent: RegisteredAgent) -> int:
    async with sessionmaker() as session:
        assigned = await session.scalar(
            select(func.sum(AgentDailyLoad.assigned)).where(
                AgentDailyLoad.agent_id == agent.agent_id
            )
        )
    return int(assigned or 0)


async def _released_events(visit_id: uuid.UUID, count: int) -> list[AssignmentReleased]:
    async def probe() -> list[Envelope] | None:
        events = await read_events_for(topics.ASSIGNMENTS, {str(visit_id)})
        found = [
            e for e in events[str(visit_id)] if e.type == AssignmentReleased.event_type
        ]
        return found if len(found) >= count else None

    found = await eventually(probe, message=f"{count} releases of visit {visit_id}")
    return [AssignmentReleased.model_validate(e.data) for e in found]


def _checked_in(
    request_tenant: uuid.UUID, visit_id: uuid.UUID, agent: RegisteredAgent
) -> VisitCheckedIn:
    now = datetime.now(UTC)
    return VisitCheckedIn(
        tenant_id=request_tenant,
        visit_id=visit_id,
        campaign_id=uuid.uuid4(),
        agent_id=agent.agent_id,
        checked_in_at=now,
        device_time=now,
        distance_m=12.0,
        accuracy_m=8.0,
        verified=True,
    )


async def _checked_in_stored(
    sessionmaker: Sessionmaker, assignment_id: str
) -> Assignment | None:
    async with sessionmaker() as session:
        row = await session.get(Assignment, uuid.UUID(assignment_id))
    return row if row is not None and row.checked_in_at is not None else None


async def _run_cli(*args: str) -> tuple[int | None, str, str]:
    """Run matching's command line without blocking the running service."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "matching.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ.copy(),
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, stdout.decode(), stderr.decode()


class TestAgentGivesBack:
    async def test_release_goes_to_another_agent(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        near = await register(sessionmaker, region.point(east_m=400))
        far = await register(sessionmaker, region.point(east_m=1500))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        assignment = await _held_by(matching, near, request.visit_id)
        assert await _load(sessionmaker, near) == 1

        response = await _release(matching, near, request.visit_id)

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["state"] == "released"
        assert body["release_reason"] == "schedule_conflict"
        assert body["assignment_id"] == assignment["assignment_id"]
        assert body["ended_at"] is not None
        assert await _load(sessionmaker, near) == 0
        await _open_offer(matching, far, request.visit_id)
        # The released agent has an accepted offer on record, so is never
        # a candidate again.
        assert await _offered_to(sessionmaker, near, request.visit_id) == ["accepted"]
        [released] = await _released_events(request.visit_id, 1)
        assert released.assignment_id == uuid.UUID(assignment["assignment_id"])
        assert released.agent_id == near.agent_id
        assert released.reason == "schedule_conflict"
        [stored] = await _assignments(sessionmaker, request.visit_id)
        assert stored.release_note == "sick child"

    async def test_release_with_nobody_left_ends_unmatched(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        only = await register(sessionmaker, region.point(east_m=400))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        await _held_by(matching, only, request.visit_id)

        response = await _release(
            matching, only, request.visit_id, {"reason": "unsafe"}
        )

        assert response.status_code == 200, response.text
        async with sessionmaker() as session:
            state = await session.scalar(
                select(VisitRequest.state).where(
                    VisitRequest.visit_id == request.visit_id
                )
            )
        assert state == "unmatched"

    async def test_stranger_twice_and_checked_in(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        holder = await register(sessionmaker, region.point(east_m=300))
        stranger = await register(sessionmaker, region.point(east_m=900))
        first = visit_requested(region.point(), dispatch=OFFER)
        second = visit_requested(region.point(north_m=50), dispatch=OFFER)
        await publish([first])
        await _held_by(matching, holder, first.visit_id)
        await publish([second])
        assignment = await _held_by(matching, holder, second.visit_id)

        by_stranger = await _release(matching, stranger, first.visit_id)
        unknown = await _release(matching, holder, uuid.uuid4())
        once = await _release(matching, holder, first.visit_id)
        twice = await _release(matching, holder, first.visit_id)
        await publish([_checked_in(second.tenant_id, second.visit_id, holder)])
        await eventually(
            lambda: _checked_in_stored(sessionmaker, assignment["assignment_id"]),
            message="check-in stored",
        )
        under_way = await _release(matching, holder, second.visit_id)

        assert by_stranger.status_code == 404, by_stranger.text
        assert by_stranger.headers["content-type"] == "application/problem+json"
        assert unknown.status_code == 404
        assert once.status_code == 200, once.text
        assert twice.status_code == 409
        assert twice.json()["type"].endswith("/assignment-not-active")
        assert twice.json()["assignment_state"] == "released"
        assert twice.json()["release_reason"] == "schedule_conflict"
        assert under_way.status_code == 409
        assert under_way.json()["type"].endswith("/visit-under-way")
        assert await _active_count(sessionmaker, second.visit_id) == 1

    async def test_bad_reason_is_a_problem(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=300))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        await _held_by(matching, agent, request.visit_id)

        # no_check_in is matching's own reason, not one an agent may give.
        for body in (
            {"reason": "no_check_in"},
            {"reason": "other", "note": "x" * 501},
            {"reason": "other", "extra": 1},
            {},
        ):
            response = await _release(matching, agent, request.visit_id, body)
            assert response.status_code == 422, (body, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        no_token = await matching.post(
            f"/assignments/{request.visit_id}/release", json={"reason": "other"}
        )
        assert no_token.status_code == 401
        assert await _active_count(sessionmaker, request.visit_id) == 1


class TestNoCheckIn:
    async def test_lapse_releases_and_offers_again(
        self,
        matching: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        region: Region,
        emit: Emit,
    ) -> None:
        near = await register(sessionmaker, region.point(east_m=400))
        far = await register(sessionmaker, region.point(east_m=1500))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        assignment = await _held_by(matching, near, request.visit_id)
        check_in_by = datetime.fromisoformat(assignment["check_in_by"])
        assigned_at = datetime.fromisoformat(assignment["assigned_at"])
        assert check_in_by == assigned_at + timedelta(hours=48)
        listed = await matching.get(
            "/agents/me/assignments", headers=bearer(near.token)
        )
        assert listed.json()[0]["check_in_by"] == assignment["check_in_by"]

        await release_lapsed(
            sessionmaker,
            emit=emit,
            settings=MatchingSettings(),
            now=check_in_by - timedelta(seconds=1),
        )
        assert await _active_count(sessionmaker, request.visit_id) == 1
        after = await release_lapsed(
            sessionmaker, emit=emit, settings=MatchingSettings(), now=check_in_by
        )

        assert after[DispatchOutcome.OFFERED] >= 1
        [stored] = await _assignments(sessionmaker, request.visit_id)
        assert stored.state == "released"
        assert stored.release_reason == "no_check_in"
        assert await _load(sessionmaker, near) == 0
        offer = await _open_offer(matching, far, request.visit_id)
        accepted = await matching.post(
            f"/offers/{offer['offer_id']}/accept", headers=bearer(far.token)
        )
        assert accepted.status_code == 201, accepted.text
        [released] = await _released_events(request.visit_id, 1)
        assert released.reason == "no_check_in"

    async def test_check_in_in_time_prevents_lapse(
        self,
        matching: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        region: Region,
        emit: Emit,
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=400))
        await register(sessionmaker, region.point(east_m=1500))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        accepted = await _held_by(matching, agent, request.visit_id)
        check_in = _checked_in(request.tenant_id, request.visit_id, agent)

        await publish([check_in, check_in])
        stored = await eventually(
            lambda: _checked_in_stored(sessionmaker, accepted["assignment_id"]),
            message="check-in stored",
        )
        await release_lapsed(
            sessionmaker,
            emit=emit,
            settings=MatchingSettings(),
            now=datetime.fromisoformat(accepted["check_in_by"]) + timedelta(hours=1),
        )

        assert stored.checked_in_at == check_in.checked_in_at
        [assignment] = await _assignments(sessionmaker, request.visit_id)
        assert assignment.state == "active"

    async def test_late_check_in_changes_nothing(
        self,
        matching: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        region: Region,
        emit: Emit,
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=400))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        await _held_by(matching, agent, request.visit_id)
        assert (await _release(matching, agent, request.visit_id)).status_code == 200

        async with sessionmaker() as session, session.begin():
            await record_check_in(
                session, _checked_in(request.tenant_id, request.visit_id, agent)
            )

        [assignment] = await _assignments(sessionmaker, request.visit_id)
        assert assignment.state == "released"
        assert assignment.checked_in_at is None


class TestSuspension:
    async def test_suspend_hands_work_to_others(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        suspended = await register(sessionmaker, region.point(east_m=200))
        other = await register(sessionmaker, region.point(east_m=1500))
        offered = visit_requested(region.point(), dispatch=OFFER)
        held = visit_requested(region.point(north_m=100), dispatch=OFFER)
        at_door = visit_requested(region.point(north_m=-100), dispatch=OFFER)
        await publish([held])
        await _held_by(matching, suspended, held.visit_id)
        await publish([at_door])
        door = await _held_by(matching, suspended, at_door.visit_id)
        await publish([_checked_in(at_door.tenant_id, at_door.visit_id, suspended)])
        await eventually(
            lambda: _checked_in_stored(sessionmaker, door["assignment_id"]),
            message="check-in stored",
        )
        await publish([offered])
        await _open_offer(matching, suspended, offered.visit_id)

        returncode, stdout, stderr = await _run_cli(
            "agents", "suspend", str(suspended.agent_id)
        )

        assert returncode == 0, stderr
        printed = json.loads(stdout)
        assert printed["offers_withdrawn"] == [str(offered.visit_id)]
        assert printed["assignments_released"] == [str(held.visit_id)]
        assert printed["assignments_kept_checked_in"] == [str(at_door.visit_id)]
        assert "checked in" in printed["note"]
        assert await _offered_to(sessionmaker, suspended, offered.visit_id) == [
            "withdrawn"
        ]
        await _open_offer(matching, other, offered.visit_id)
        await _open_offer(matching, other, held.visit_id)
        [released] = await _assignments(sessionmaker, held.visit_id)
        assert released.release_reason == "agent_suspended"
        [kept] = await _assignments(sessionmaker, at_door.visit_id)
        assert kept.state == "active"
        # The relay of the running service publishes what the command wrote.
        [event] = await _released_events(held.visit_id, 1)
        assert event.reason == "agent_suspended"


class TestConcurrentRelease:
    async def test_two_releases_at_once(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=300))
        await register(sessionmaker, region.point(east_m=1200))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        await _held_by(matching, agent, request.visit_id)

        answers = await asyncio.gather(
            *(_release(matching, agent, request.visit_id) for _ in range(4))
        )

        assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
        assert await _load(sessionmaker, agent) == 0
        assert await _active_count(sessionmaker, request.visit_id) == 0
        assert len(await _released_events(request.visit_id, 1)) == 1

    async def test_release_and_check_in_at_once(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=300))
        await register(sessionmaker, region.point(east_m=1200))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        accepted = await _held_by(matching, agent, request.visit_id)

        async def check_in() -> None:
            async with sessionmaker() as session, session.begin():
                await record_check_in(
                    session, _checked_in(request.tenant_id, request.visit_id, agent)
                )

        response, _ = await asyncio.gather(
            _release(matching, agent, request.visit_id), check_in()
        )

        [assignment] = await _assignments(sessionmaker, request.visit_id)
        assert str(assignment.assignment_id) == accepted["assignment_id"]
        if response.status_code == 200:
            assert assignment.state == "released"
            assert assignment.checked_in_at is None
        else:
            assert response.status_code == 409, response.text
            assert assignment.state == "active"
            assert assignment.checked_in_at is not None

    async def test_release_and_accept_at_once(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        first = await register(sessionmaker, region.point(east_m=300))
        second = await register(sessionmaker, region.point(east_m=600))
        third = await register(sessionmaker, region.point(east_m=1500))
        request = visit_requested(region.point(), dispatch=BROADCAST)
        await publish([request])
        await _held_by(matching, first, request.visit_id)
        # The second agent's broadcast offer was withdrawn by the first accept.
        [late] = await _offered_to(sessionmaker, second, request.visit_id)
        async with sessionmaker() as session:
            late_offer = await session.scalar(
                select(Offer.offer_id).where(
                    Offer.visit_id == request.visit_id,
                    Offer.agent_id == second.agent_id,
                )
            )

        released, accepted = await asyncio.gather(
            _release(matching, first, request.visit_id),
            matching.post(f"/offers/{late_offer}/accept", headers=bearer(second.token)),
        )
        offer = await _open_offer(matching, third, request.visit_id)
        reassigned, again = await asyncio.gather(
            matching.post(
                f"/offers/{offer['offer_id']}/accept", headers=bearer(third.token)
            ),
            _release(matching, first, request.visit_id),
        )

        assert late == "withdrawn"
        assert released.status_code == 200, released.text
        assert accepted.status_code == 409, accepted.text
        assert reassigned.status_code == 201, reassigned.text
        assert again.status_code == 409
        assignments = await _assignments(sessionmaker, request.visit_id)
        assert [a.state for a in assignments] == ["released", "active"]
        assert assignments[1].agent_id == third.agent_id
        assert await _active_count(sessionmaker, request.visit_id) == 1
