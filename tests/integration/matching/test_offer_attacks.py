"""Races on accepts and declines: against row locks, expiry, capacity and withdrawal.

Each test plays one or two agent apps against the running matching service.
"""

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy import select, text

from matching.models import Offer
from shared.errors import PROBLEM_CONTENT_TYPE
from shared.events.payloads import (
    DispatchMode,
    DispatchPolicy,
    VisitWithdrawn,
    WithdrawalReason,
)
from tests.fixtures.apps import eventually
from tests.fixtures.events import publish
from tests.integration.matching.helpers import Region, register, visit_requested
from tests.integration.matching.offer_helpers import (
    Sessionmaker,
    accept_offer,
    active_assignments,
    assigned_load,
    decline_offer,
    offer_for,
    request_state,
)

SHORT_OFFER = DispatchPolicy(
    mode=DispatchMode.OFFER, offer_timeout_seconds=2, max_wait_seconds=600
)
OFFER = DispatchPolicy(mode=DispatchMode.OFFER, offer_timeout_seconds=600)


async def _hold_request_lock(
    sessionmaker: Sessionmaker, visit_id: uuid.UUID, release: asyncio.Event
) -> None:
    """Hold the visit request's row lock, as a slow writer would, until `release`."""
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text(
                "SELECT 1 FROM matching.visit_requests WHERE visit_id = :v FOR UPDATE"
            ),
            {"v": visit_id},
        )
        await release.wait()


class TestAcceptAfterExpiry:
    async def test_accept_after_lock_wait_past_expiry(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        """Reject an accept that reaches the request's lock after `expires_at`.

        Matching documents that an offer cannot be accepted after `expires_at`.
        The accept reads the clock before it waits for the lock, so an accept
        that waited past `expires_at` behind another writer still takes the visit.
        """
        agent = await register(sessionmaker, region.point(east_m=300))
        request = visit_requested(region.point(), dispatch=SHORT_OFFER)
        await publish([request])
        offer = await offer_for(matching, agent, request.visit_id)
        expires_at = datetime.fromisoformat(offer["expires_at"])

        release = asyncio.Event()
        holder = asyncio.create_task(
            _hold_request_lock(sessionmaker, request.visit_id, release)
        )
        await asyncio.sleep(0.2)
        accept = asyncio.create_task(accept_offer(matching, agent, offer["offer_id"]))
        await asyncio.sleep(0.2)
        assert not accept.done()
        # Wait until the offer is past its expiry, then let the accept in.
        pause = (expires_at - datetime.now(UTC)).total_seconds() + 0.5
        await asyncio.sleep(max(pause, 0))
        assert datetime.now(UTC) > expires_at
        release.set()
        await holder
        response = await accept

        assert response.status_code == 409, (
            f"accepted at about {datetime.now(UTC).isoformat()}, after the offer "
            f"expired at {expires_at.isoformat()}: {response.text}"
        )
        assert response.json()["type"].endswith("/offer-closed")
        assert await active_assignments(sessionmaker, request.visit_id) == 0

    async def test_decline_after_lock_wait_past_expiry(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        """Reject a decline that reaches the request's lock after `expires_at`.

        Without the wait such a decline returns 409. Recorded as declined, the
        lapse is also left out of the agent's reliability.
        """
        agent = await register(sessionmaker, region.point(east_m=300))
        request = visit_requested(region.point(), dispatch=SHORT_OFFER)
        await publish([request])
        offer = await offer_for(matching, agent, request.visit_id)
        expires_at = datetime.fromisoformat(offer["expires_at"])

        release = asyncio.Event()
        holder = asyncio.create_task(
            _hold_request_lock(sessionmaker, request.visit_id, release)
        )
        await asyncio.sleep(0.2)
        decline = asyncio.create_task(decline_offer(matching, agent, offer["offer_id"]))
        await asyncio.sleep(0.2)
        assert not decline.done()
        pause = (expires_at - datetime.now(UTC)).total_seconds() + 0.5
        await asyncio.sleep(max(pause, 0))
        release.set()
        await holder
        response = await decline

        assert response.status_code == 409, response.text
        assert response.json()["offer_state"] == "expired"


class TestParallelAnswers:
    async def test_same_agent_twice_at_once(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=300))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        offer = await offer_for(matching, agent, request.visit_id)

        responses = await asyncio.gather(
            *(accept_offer(matching, agent, offer["offer_id"]) for _ in range(5))
        )

        assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201]
        assert len({r.json()["assignment_id"] for r in responses}) == 1
        assert await assigned_load(sessionmaker, agent.agent_id) == 1
        assert await active_assignments(sessionmaker, request.visit_id) == 1

    async def test_decline_and_accept_at_once(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=300))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        offer = await offer_for(matching, agent, request.visit_id)

        accepted, declined = await asyncio.gather(
            accept_offer(matching, agent, offer["offer_id"]),
            decline_offer(matching, agent, offer["offer_id"]),
        )

        codes = (accepted.status_code, declined.status_code)
        assert codes in ((201, 409), (409, 200)), [accepted.text, declined.text]
        async with sessionmaker() as session:
            state = await session.scalar(
                select(Offer.state).where(Offer.offer_id == offer["offer_id"])
            )
        assert state == ("accepted" if codes[0] == 201 else "declined")
        assert await assigned_load(sessionmaker, agent.agent_id) == (codes[0] == 201)

    async def test_parallel_accepts_within_capacity(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=300), daily_capacity=2)
        requests = [
            visit_requested(region.point(north_m=50 * i), dispatch=OFFER)
            for i in range(6)
        ]
        await publish(requests)
        offers = [await offer_for(matching, agent, r.visit_id) for r in requests]

        responses = await asyncio.gather(
            *(accept_offer(matching, agent, o["offer_id"]) for o in offers)
        )

        codes = sorted(r.status_code for r in responses)
        assert codes == [201, 201, 409, 409, 409, 409], [r.text for r in responses]
        for response in responses:
            if response.status_code == 409:
                assert response.json()["type"].endswith("/no-capacity")
        assert await assigned_load(sessionmaker, agent.agent_id) == 2

    async def test_accept_racing_withdrawal(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=300))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        offer = await offer_for(matching, agent, request.visit_id)
        withdrawn = VisitWithdrawn(
            tenant_id=request.tenant_id,
            visit_id=request.visit_id,
            campaign_id=request.campaign_id,
            account_id=request.account_id,
            reason=WithdrawalReason.CAMPAIGN_PAUSED,
            withdrawn_at=datetime.now(UTC),
        )

        response, _ = await asyncio.gather(
            accept_offer(matching, agent, offer["offer_id"]), publish([withdrawn])
        )

        assert response.status_code in (201, 409), response.text

        async def settled() -> bool:
            return await request_state(sessionmaker, request.visit_id) == "cancelled"

        await eventually(settled, message="request cancelled")
        assert await active_assignments(sessionmaker, request.visit_id) == 0
        assert await assigned_load(sessionmaker, agent.agent_id) == 0


class TestOddNotes:
    async def test_lone_surrogate_in_note(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        """Reject a note with an unpaired surrogate escape as a 422 problem.

        JSON allows the escape `\\ud800`, but no UTF-8 text can carry it. The
        validation problem repeats the input, so rendering it must not fail.
        """
        agent = await register(sessionmaker, region.point(east_m=300))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        offer = await offer_for(matching, agent, request.visit_id)

        response = await matching.post(
            f"/offers/{offer['offer_id']}/decline",
            headers={
                "Authorization": f"Bearer {agent.token}",
                "Content-Type": "application/json",
            },
            content=b'{"reason": "other", "note": "\\ud800"}',
        )

        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE)
        async with sessionmaker() as session:
            state = await session.scalar(
                select(Offer.state).where(Offer.offer_id == offer["offer_id"])
            )
        assert state == "offered"
