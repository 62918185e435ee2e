"""A released assignment: the visit waits again, and only the next agent works it."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from shared.events.payloads import (
    AssignmentCreated,
    AssignmentReleased,
    ReleaseReason,
    VisitRequested,
    VisitWithdrawn,
    WithdrawalReason,
)
from tests.fixtures.apps import eventually
from tests.fixtures.events import publish
from tests.integration.visits.helpers import (
    AssignedVisit,
    Sessionmaker,
    agent_headers,
    assigned_visit,
    check_in_body,
    checked_in_visit,
    event_types,
    result_body,
    visit_events,
    visit_row,
    wait_for_state,
)
from visits.models import AssignmentRelease


def _assignment(
    request: VisitRequested, agent_id: uuid.UUID, assignment_id: uuid.UUID
) -> AssignmentCreated:
    return AssignmentCreated(
        tenant_id=request.tenant_id,
        assignment_id=assignment_id,
        offer_id=uuid.uuid4(),
        visit_id=request.visit_id,
        agent_id=agent_id,
        assigned_at=datetime.now(UTC),
        distance_m=640.0,
    )


def _released(
    request: VisitRequested,
    agent_id: uuid.UUID,
    assignment_id: uuid.UUID,
    reason: ReleaseReason = ReleaseReason.NO_CHECK_IN,
) -> AssignmentReleased:
    return AssignmentReleased(
        tenant_id=request.tenant_id,
        assignment_id=assignment_id,
        visit_id=request.visit_id,
        agent_id=agent_id,
        reason=reason,
        released_at=datetime.now(UTC),
    )


async def _current_assignment(
    sessionmaker: Sessionmaker, visit: AssignedVisit
) -> uuid.UUID:
    row = await visit_row(sessionmaker, visit.request.visit_id)
    assert row is not None and row.assignment_id is not None
    return row.assignment_id


async def _assigned_to(
    sessionmaker: Sessionmaker, visit_id: uuid.UUID, agent_id: uuid.UUID
) -> bool:
    row = await visit_row(sessionmaker, visit_id)
    return row is not None and row.state == "assigned" and row.agent_id == agent_id


async def _release_stored(sessionmaker: Sessionmaker, assignment_id: uuid.UUID) -> bool:
    async with sessionmaker() as session:
        return await session.get(AssignmentRelease, assignment_id) is not None


class TestAssignmentReleased:
    async def test_released_agent_refused_next_agent_works(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        first = await assigned_visit(visits)
        request = first.request
        first_assignment = await _current_assignment(sessionmaker, first)

        await publish([_released(request, first.agent_id, first_assignment)])
        waiting = await wait_for_state(sessionmaker, request.visit_id, "requested")
        check_in = await visits.post(
            f"{first.path}/check-in", json=check_in_body(), headers=first.headers
        )
        result = await visits.post(
            f"{first.path}/result", json=result_body(), headers=first.headers
        )
        read = await visits.get(first.path, headers=first.headers)

        assert waiting.agent_id is None
        assert waiting.assignment_id is None
        assert check_in.status_code == 409, check_in.text
        assert check_in.json()["current_state"] == "requested"
        assert check_in.json()["release_reason"] == "no_check_in"
        assert "requested" in check_in.json()["detail"]
        assert result.status_code == 409, result.text
        assert result.json()["current_state"] == "requested"
        assert read.status_code == 404

        second_agent, second_assignment = uuid.uuid4(), uuid.uuid4()
        await publish([_assignment(request, second_agent, second_assignment)])
        await eventually(
            lambda: _assigned_to(sessionmaker, request.visit_id, second_agent),
            message="second agent assigned",
        )
        second_headers = agent_headers(second_agent)
        arrived = await visits.post(
            f"{first.path}/check-in", json=check_in_body(), headers=second_headers
        )
        rejected = await visits.post(
            f"{first.path}/check-in", json=check_in_body(), headers=first.headers
        )

        assert arrived.status_code == 201, arrived.text
        assert rejected.status_code == 409
        assert rejected.json()["current_state"] == "checked_in"

    async def test_repeat_and_late_events_change_nothing(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        first = await assigned_visit(visits)
        request = first.request
        first_assignment = await _current_assignment(sessionmaker, first)
        release = _released(request, first.agent_id, first_assignment)
        second_agent, second_assignment = uuid.uuid4(), uuid.uuid4()

        # The release, a late copy of the released assignment, the next
        # assignment, then the release twice more (`publish` gives each copy
        # an event id of its own, so the consumer's dedup does not hide them).
        await publish(
            [
                release,
                _assignment(request, first.agent_id, first_assignment),
                _assignment(request, second_agent, second_assignment),
                release,
                _released(request, first.agent_id, first_assignment),
            ]
        )
        await eventually(
            lambda: _assigned_to(sessionmaker, request.visit_id, second_agent),
            message="second agent assigned",
        )
        # A marker behind them on the same key: once it applies, so have they.
        marker = uuid.uuid4()
        await publish([_released(request, uuid.uuid4(), marker)])

        await eventually(
            lambda: _release_stored(sessionmaker, marker),
            message="marker release stored",
        )
        row = await visit_row(sessionmaker, request.visit_id)
        assert row is not None
        assert row.state == "assigned"
        assert row.agent_id == second_agent
        assert row.assignment_id == second_assignment

    async def test_release_announced_once_per_assignment(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        first = await assigned_visit(visits)
        request = first.request
        first_assignment = await _current_assignment(sessionmaker, first)
        release = _released(
            request, first.agent_id, first_assignment, ReleaseReason.CANNOT_REACH
        )
        second_agent, second_assignment = uuid.uuid4(), uuid.uuid4()

        await publish(
            [
                release,
                release,
                _assignment(request, second_agent, second_assignment),
            ]
        )
        await eventually(
            lambda: _assigned_to(sessionmaker, request.visit_id, second_agent),
            message="second agent assigned",
        )

        events = await visit_events(sessionmaker, request.visit_id)
        assert event_types(events) == [
            "campo.visit.assigned",
            "campo.visit.released",
            "campo.visit.assigned",
        ]
        released = events[1].data
        assert released["agent_id"] == str(first.agent_id)
        assert released["assignment_id"] == str(first_assignment)
        assert released["account_id"] == str(request.account_id)
        assert released["campaign_id"] == str(request.campaign_id)
        assert released["reason"] == "cannot_reach"

    async def test_checked_in_visit_stays_with_agent(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        visit = await checked_in_visit(visits)
        assignment_id = await _current_assignment(sessionmaker, visit)

        await publish(
            [
                _released(
                    visit.request,
                    visit.agent_id,
                    assignment_id,
                    ReleaseReason.AGENT_SUSPENDED,
                )
            ]
        )
        marker = uuid.uuid4()
        await publish([_released(visit.request, uuid.uuid4(), marker)])

        await eventually(
            lambda: _release_stored(sessionmaker, marker),
            message="marker release stored",
        )
        row = await visit_row(sessionmaker, visit.request.visit_id)
        assert row is not None
        assert row.state == "checked_in"
        assert row.agent_id == visit.agent_id
        events = await visit_events(sessionmaker, visit.request.visit_id)
        assert "campo.visit.released" not in event_types(events)

    async def test_withdrawal_release_leaves_cancel_to_withdrawal(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        visit = await assigned_visit(visits)
        request = visit.request
        assignment_id = await _current_assignment(sessionmaker, visit)

        await publish(
            [
                _released(
                    request,
                    visit.agent_id,
                    assignment_id,
                    ReleaseReason.VISIT_WITHDRAWN,
                )
            ]
        )
        # The release arrives first, as when matching's consumer is ahead.
        await eventually(
            lambda: _release_stored(sessionmaker, assignment_id),
            message="release stored",
        )
        assert (await visit_row(sessionmaker, request.visit_id)).state == "assigned"
        await publish(
            [
                VisitWithdrawn(
                    tenant_id=request.tenant_id,
                    visit_id=request.visit_id,
                    campaign_id=request.campaign_id,
                    account_id=request.account_id,
                    reason=WithdrawalReason.CAMPAIGN_PAUSED,
                    withdrawn_at=datetime.now(UTC) + timedelta(seconds=1),
                ),
            ]
        )
        cancelled = await wait_for_state(sessionmaker, request.visit_id, "cancelled")

        assert cancelled.agent_id == visit.agent_id
