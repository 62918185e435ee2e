"""Offer and broadcast modes through the agents' API, on the running service."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from matching.agents import RegisteredAgent
from matching.models import Agent, Offer, VisitRequest
from shared.errors import PROBLEM_CONTENT_TYPE
from shared.events import Envelope, topics
from shared.events.payloads import (
    AssignmentCreated,
    DispatchMode,
    DispatchPolicy,
    OfferDeclined,
    OfferMade,
    VisitUnmatched,
    VisitWithdrawn,
    WithdrawalReason,
)
from tests.fixtures.apps import eventually
from tests.fixtures.events import publish
from tests.integration.matching.helpers import (
    Region,
    haversine_m,
    read_events_for,
    register,
    visit_requested,
)
from tests.integration.matching.offer_helpers import (
    Sessionmaker,
    accept_offer,
    active_assignments,
    assigned_load,
    decline_offer,
    offer_for,
    open_offers,
    request_state,
)

OFFER = DispatchPolicy(mode=DispatchMode.OFFER, offer_timeout_seconds=600)
DEBTOR_FIELDS = {"debtor_name", "phone", "address", "street", "location", "brief"}


async def _has_offer(
    client: httpx.AsyncClient, agent: RegisteredAgent, visit_id: uuid.UUID
) -> bool:
    return any(o["visit_id"] == str(visit_id) for o in await open_offers(client, agent))


async def _events_through(visit_id: uuid.UUID, last_type: str) -> list[Envelope]:
    """Read the visit's events once one of type `last_type` is published.

    The relay publishes a visit's events in order, so the earlier ones are
    there too.
    """

    async def probe() -> list[Envelope] | None:
        events = await read_events_for(topics.ASSIGNMENTS, {str(visit_id)})
        envelopes = events[str(visit_id)]
        return envelopes if any(e.type == last_type for e in envelopes) else None

    return await eventually(probe, message=f"{last_type} of visit {visit_id}")


async def _state_is(
    sessionmaker: Sessionmaker, visit_id: uuid.UUID, state: str
) -> bool:
    return await request_state(sessionmaker, visit_id) == state


async def _offer_states(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> list[str]:
    async with sessionmaker() as session:
        result = await session.scalars(
            select(Offer.state)
            .where(Offer.visit_id == visit_id)
            .order_by(Offer.offered_at, Offer.distance_m)
        )
        return list(result.all())


class TestOfferMode:
    async def test_nearest_gets_exclusive_offer(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        near = await register(sessionmaker, region.point(east_m=800))
        far = await register(sessionmaker, region.point(east_m=2500))
        request = visit_requested(region.point(), dispatch=OFFER)

        await publish([request])
        offer = await offer_for(matching, near, request.visit_id)

        assert not await _has_offer(matching, far, request.visit_id)
        assert DEBTOR_FIELDS.isdisjoint(offer)
        assert offer["mode"] == "offer"
        assert offer["colonia"] == "Centro"
        assert offer["municipality"] == "Cuauhtémoc"
        assert offer["fee"] == {"amount": "85.00", "currency": "MXN"}
        expected_m = haversine_m(region.point(east_m=800), request.location)
        assert offer["distance_m"] == pytest.approx(expected_m, rel=0.01)
        expires_at = datetime.fromisoformat(offer["expires_at"])
        offered_at = datetime.fromisoformat(offer["offered_at"])
        assert expires_at - offered_at == timedelta(seconds=600)
        assert await request_state(sessionmaker, request.visit_id) == "offered"
        # Capacity is reserved on accept, not on offer.
        assert await assigned_load(sessionmaker, near.agent_id) == 0

    async def test_repeated_accept_same_assignment(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=500))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        offer = await offer_for(matching, agent, request.visit_id)

        first = await accept_offer(matching, agent, offer["offer_id"])
        again = await accept_offer(matching, agent, offer["offer_id"])

        assert first.status_code == 201, first.text
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
        assert first.json()["visit_id"] == str(request.visit_id)
        assert first.json()["state"] == "active"
        assert await assigned_load(sessionmaker, agent.agent_id) == 1
        assert await open_offers(matching, agent) == []
        events = await _events_through(request.visit_id, AssignmentCreated.event_type)
        created = [
            AssignmentCreated.model_validate(e.data)
            for e in events
            if e.type == AssignmentCreated.event_type
        ]
        assert len(created) == 1
        assert created[0].assignment_id == uuid.UUID(first.json()["assignment_id"])
        assert created[0].offer_id == uuid.UUID(offer["offer_id"])
        assert created[0].agent_id == agent.agent_id

    async def test_declined_never_offered_again(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        near = await register(sessionmaker, region.point(east_m=300))
        middle = await register(sessionmaker, region.point(east_m=1200))
        far = await register(sessionmaker, region.point(east_m=2400))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])

        first = await offer_for(matching, near, request.visit_id)
        declined = await decline_offer(
            matching, near, first["offer_id"], {"reason": "no_time", "note": "hoy no"}
        )
        second = await offer_for(matching, middle, request.visit_id)
        await decline_offer(matching, middle, second["offer_id"])
        third = await offer_for(matching, far, request.visit_id)

        assert declined.status_code == 200, declined.text
        assert declined.json()["state"] == "declined"
        # Both declined, so neither is offered the visit again.
        assert not await _has_offer(matching, near, request.visit_id)
        assert not await _has_offer(matching, middle, request.visit_id)
        again = await decline_offer(matching, near, first["offer_id"])
        assert again.status_code == 200
        accepted = await accept_offer(matching, near, first["offer_id"])
        assert accepted.status_code == 409
        assert accepted.json()["offer_state"] == "declined"
        assert (await accept_offer(matching, far, third["offer_id"])).status_code == 201
        events = await _events_through(request.visit_id, AssignmentCreated.event_type)
        by_type = [e.type for e in events]
        assert by_type.count(OfferMade.event_type) == 3
        declines = [
            OfferDeclined.model_validate(e.data)
            for e in events
            if e.type == OfferDeclined.event_type
        ]
        assert [d.reason for d in declines] == ["no_time", "too_far"]

    async def test_all_declined_ends_unmatched(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        only = await register(sessionmaker, region.point(east_m=700))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        offer = await offer_for(matching, only, request.visit_id)

        await decline_offer(
            matching, only, offer["offer_id"], {"reason": "unsafe_area"}
        )

        assert await request_state(sessionmaker, request.visit_id) == "unmatched"
        events = await _events_through(request.visit_id, VisitUnmatched.event_type)
        unmatched = [
            VisitUnmatched.model_validate(e.data)
            for e in events
            if e.type == VisitUnmatched.event_type
        ]
        assert [u.reason for u in unmatched] == ["out_of_coverage"]
        assert unmatched[0].nearest_agent_distance_m == pytest.approx(
            haversine_m(region.point(east_m=700), request.location), rel=0.01
        )

    async def test_expired_offer_goes_to_next_candidate(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        silent = await register(sessionmaker, region.point(east_m=300))
        next_one = await register(sessionmaker, region.point(east_m=1500))
        policy = DispatchPolicy(mode=DispatchMode.OFFER, offer_timeout_seconds=1)
        request = visit_requested(region.point(), dispatch=policy)
        await publish([request])
        first = await offer_for(matching, silent, request.visit_id)

        second = await offer_for(matching, next_one, request.visit_id)
        late = await accept_offer(matching, silent, first["offer_id"])

        assert second["offer_id"] != first["offer_id"]
        assert late.status_code == 409
        assert late.headers["content-type"] == PROBLEM_CONTENT_TYPE
        assert late.json()["offer_state"] == "expired"
        assert late.json()["visit_state"] == "offered"
        assert not await _has_offer(matching, silent, request.visit_id)
        states = await _offer_states(sessionmaker, request.visit_id)
        assert states[0] == "expired"

    async def test_wait_over_ends_unmatched(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        # One agent lets every offer run out, another is offline all along.
        silent = await register(sessionmaker, region.point(east_m=300))
        await register(sessionmaker, region.point(east_m=900), status="offline")
        policy = DispatchPolicy(
            mode=DispatchMode.OFFER, offer_timeout_seconds=1, max_wait_seconds=2
        )
        request = visit_requested(region.point(), dispatch=policy)
        await publish([request])
        await offer_for(matching, silent, request.visit_id)

        await eventually(
            lambda: _state_is(sessionmaker, request.visit_id, "unmatched"),
            message="visit unmatched after its wait",
        )
        events = await _events_through(request.visit_id, VisitUnmatched.event_type)
        unmatched = [
            VisitUnmatched.model_validate(e.data)
            for e in events
            if e.type == VisitUnmatched.event_type
        ]
        assert len(unmatched) == 1
        assert unmatched[0].reason == "out_of_coverage"
        assert unmatched[0].decided_at >= request.requested_at + timedelta(seconds=2)
        assert unmatched[0].nearest_agent_distance_m == pytest.approx(
            haversine_m(region.point(east_m=300), request.location), rel=0.01
        )


class TestBroadcastMode:
    async def test_first_candidates_all_see_the_visit(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agents = [
            await register(sessionmaker, region.point(east_m=400 * (i + 1)))
            for i in range(4)
        ]
        policy = DispatchPolicy(mode=DispatchMode.BROADCAST, broadcast_size=3)
        request = visit_requested(region.point(), dispatch=policy)
        await publish([request])

        offers = [await offer_for(matching, a, request.visit_id) for a in agents[:3]]

        assert {o["mode"] for o in offers} == {"broadcast"}
        assert len({o["offer_id"] for o in offers}) == 3
        assert not await _has_offer(matching, agents[3], request.visit_id)

    async def test_concurrent_accepts_have_one_winner(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agents = [
            await register(sessionmaker, region.point(north_m=300 * (i + 1)))
            for i in range(6)
        ]
        policy = DispatchPolicy(mode=DispatchMode.BROADCAST, broadcast_size=6)
        request = visit_requested(region.point(), dispatch=policy)
        await publish([request])
        offers = [await offer_for(matching, a, request.visit_id) for a in agents]

        responses = await asyncio.gather(
            *(
                accept_offer(matching, a, o["offer_id"])
                for a, o in zip(agents, offers, strict=True)
            )
        )

        codes = sorted(r.status_code for r in responses)
        assert codes == [201, 409, 409, 409, 409, 409], [r.text for r in responses]
        winner = next(r for r in responses if r.status_code == 201).json()
        for response in responses:
            if response.status_code == 409:
                problem = response.json()
                assert problem["offer_state"] == "withdrawn"
                assert problem["visit_state"] == "assigned"
                assert "taken by another agent" in problem["detail"]
        assert await active_assignments(sessionmaker, request.visit_id) == 1
        loads = [await assigned_load(sessionmaker, a.agent_id) for a in agents]
        assert sorted(loads) == [0, 0, 0, 0, 0, 1]
        states = await _offer_states(sessionmaker, request.visit_id)
        assert sorted(states) == ["accepted"] + ["withdrawn"] * 5
        assert winner["visit_id"] == str(request.visit_id)

    async def test_all_declined_offers_next_round(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        first_round = [
            await register(sessionmaker, region.point(east_m=300 * (i + 1)))
            for i in range(2)
        ]
        later = await register(sessionmaker, region.point(east_m=3000))
        policy = DispatchPolicy(mode=DispatchMode.BROADCAST, broadcast_size=2)
        request = visit_requested(region.point(), dispatch=policy)
        await publish([request])

        for agent in first_round:
            offer = await offer_for(matching, agent, request.visit_id)
            assert not await _has_offer(matching, later, request.visit_id)
            await decline_offer(matching, agent, offer["offer_id"])

        await offer_for(matching, later, request.visit_id)


class TestAssignMode:
    async def test_assign_skips_acceptance(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=400))
        policy = DispatchPolicy(mode=DispatchMode.ASSIGN)
        request = visit_requested(region.point(), dispatch=policy)

        await publish([request])
        events = await read_events_for(topics.ASSIGNMENTS, {str(request.visit_id)})

        assert [e.type for e in events[str(request.visit_id)]] == [
            AssignmentCreated.event_type
        ]
        assert events[str(request.visit_id)][0].data["agent_id"] == str(agent.agent_id)
        assert await open_offers(matching, agent) == []
        assert await _offer_states(sessionmaker, request.visit_id) == ["accepted"]


class TestCapacity:
    async def test_accept_beyond_capacity_is_refused(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=300), daily_capacity=1)
        requests = [
            visit_requested(region.point(north_m=i * 100), dispatch=OFFER)
            for i in range(2)
        ]
        await publish(requests)
        offers = [await offer_for(matching, agent, r.visit_id) for r in requests]

        first = await accept_offer(matching, agent, offers[0]["offer_id"])
        second = await accept_offer(matching, agent, offers[1]["offer_id"])

        assert first.status_code == 201
        assert second.status_code == 409
        assert second.json()["type"].endswith("/no-capacity")
        assert await assigned_load(sessionmaker, agent.agent_id) == 1
        assert await active_assignments(sessionmaker, requests[1].visit_id) == 0

    async def test_full_agent_is_not_offered(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        near = await register(sessionmaker, region.point(east_m=300), daily_capacity=1)
        far = await register(sessionmaker, region.point(east_m=2000))
        first = visit_requested(region.point(), dispatch=OFFER)
        await publish([first])
        offer = await offer_for(matching, near, first.visit_id)
        assert (
            await accept_offer(matching, near, offer["offer_id"])
        ).status_code == 201

        second = visit_requested(region.point(north_m=50), dispatch=OFFER)
        await publish([second])

        await offer_for(matching, far, second.visit_id)
        assert not await _has_offer(matching, near, second.visit_id)


class TestEligibility:
    async def test_suspended_agent_cannot_accept(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=300))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        offer = await offer_for(matching, agent, request.visit_id)
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Agent)
                .where(Agent.agent_id == agent.agent_id)
                .values(status="suspended")
            )

        response = await accept_offer(matching, agent, offer["offer_id"])

        assert response.status_code == 409
        assert response.json()["type"].endswith("/agent-not-eligible")
        assert response.json()["agent_status"] == "suspended"
        assert await assigned_load(sessionmaker, agent.agent_id) == 0
        assert await request_state(sessionmaker, request.visit_id) == "offered"


class TestOfferApi:
    async def test_other_agents_offer_not_found(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        owner = await register(sessionmaker, region.point(east_m=300))
        other = await register(sessionmaker, region.point(east_m=90_000))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        offer = await offer_for(matching, owner, request.visit_id)

        accepted = await accept_offer(matching, other, offer["offer_id"])
        declined = await decline_offer(matching, other, offer["offer_id"])
        unknown = await accept_offer(matching, owner, str(uuid.uuid4()))

        for response in (accepted, declined, unknown):
            assert response.status_code == 404
            assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
        assert await request_state(sessionmaker, request.visit_id) == "offered"

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"reason": "bored"},
            {"reason": "other", "note": "x" * 501},
            {"reason": "too_far", "colour": "red"},
            [],
        ],
    )
    async def test_bad_decline_body_is_a_problem(
        self,
        matching: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        region: Region,
        body: Any,
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=300))

        response = await decline_offer(matching, agent, str(uuid.uuid4()), body)

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
        assert response.json()["status"] == 422

    async def test_bad_id_and_no_token(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=300))

        bad_id = await accept_offer(matching, agent, "not-a-uuid")
        no_token = await matching.post(f"/offers/{uuid.uuid4()}/accept")
        listing = await matching.get("/agents/me/offers")

        assert bad_id.status_code == 422
        assert no_token.status_code == 401
        assert listing.status_code == 401
        for response in (bad_id, no_token, listing):
            assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE

    async def test_withdrawn_visit_answers_conflict(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        agent = await register(sessionmaker, region.point(east_m=300))
        request = visit_requested(region.point(), dispatch=OFFER)
        await publish([request])
        offer = await offer_for(matching, agent, request.visit_id)

        await publish(
            [
                VisitWithdrawn(
                    tenant_id=request.tenant_id,
                    visit_id=request.visit_id,
                    campaign_id=request.campaign_id,
                    account_id=request.account_id,
                    reason=WithdrawalReason.CAMPAIGN_CANCELLED,
                    withdrawn_at=datetime.now(UTC),
                )
            ]
        )
        await eventually(
            lambda: _state_is(sessionmaker, request.visit_id, "cancelled"),
            message="visit request cancelled",
        )
        response = await accept_offer(matching, agent, offer["offer_id"])

        assert response.status_code == 409
        assert response.json()["offer_state"] == "withdrawn"
        assert response.json()["visit_state"] == "cancelled"
        assert await open_offers(matching, agent) == []


class TestRanking:
    async def test_faster_agent_offered_before_nearer_walker(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        # 1.2 km on foot is about 16 minutes; 2 km by motorcycle about 5.
        walker = await register(
            sessionmaker, region.point(east_m=1200), travel_mode="walk"
        )
        rider = await register(
            sessionmaker, region.point(east_m=2000), travel_mode="motorcycle"
        )
        request = visit_requested(region.point(), dispatch=OFFER)

        await publish([request])
        offer = await offer_for(matching, rider, request.visit_id)

        assert not await _has_offer(matching, walker, request.visit_id)
        assert offer["distance_m"] > 1900

    async def test_agent_who_lets_offers_lapse_comes_later(
        self, matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region
    ) -> None:
        lapsing = await register(sessionmaker, region.point(east_m=900))
        answering = await register(sessionmaker, region.point(east_m=1000))
        # The nearer agent let ten offers of other visits expire.
        async with sessionmaker() as session, session.begin():
            for _ in range(10):
                past = visit_requested(region.point(north_m=50_000), dispatch=OFFER)
                session.add(
                    VisitRequest(
                        visit_id=past.visit_id,
                        tenant_id=past.tenant_id,
                        campaign_id=past.campaign_id,
                        location=f"POINT({past.location.lon} {past.location.lat})",
                        fee_amount=past.fee.amount,
                        fee_currency=past.fee.currency,
                        deadline=past.deadline,
                        requested_at=past.requested_at,
                        state="cancelled",
                    )
                )
                await session.flush()
                session.add(
                    Offer(
                        offer_id=uuid.uuid4(),
                        visit_id=past.visit_id,
                        agent_id=lapsing.agent_id,
                        tenant_id=past.tenant_id,
                        state="expired",
                        distance_m=900.0,
                        offered_at=datetime.now(UTC) - timedelta(days=1),
                    )
                )
        request = visit_requested(region.point(), dispatch=OFFER)

        await publish([request])
        await offer_for(matching, answering, request.visit_id)

        assert not await _has_offer(matching, lapsing, request.visit_id)
