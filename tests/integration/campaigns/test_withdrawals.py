"""Withdrawals across ingest, matching and visits, on the real broker."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from ingest.models import common as ingest_tables
from shared.events import topics
from tests.fixtures.apps import eventually
from tests.fixtures.events import read_events
from tests.fixtures.tenants import make_tenant
from tests.integration.campaigns.helpers import (
    LaunchedVisit,
    Services,
    Sessionmaker,
    accept_offer,
    agent_load,
    campaign_visit_ids,
    launch_one_visit,
    matching_state,
    wait_for_visit,
)
from visits.models import common as visits_tables


async def withdrawal_handled(sessionmaker: Sessionmaker, visit_id: uuid.UUID) -> None:
    """Wait until visits handled the withdrawal ingest emitted for the visit."""
    async with sessionmaker() as session:
        event_id = await session.scalar(
            select(ingest_tables.outbox.c.event_id).where(
                ingest_tables.outbox.c.subject == str(visit_id),
                ingest_tables.outbox.c.event_type == "campo.visit.withdrawn",
            )
        )
    assert event_id is not None, f"no withdrawal of visit {visit_id} in the outbox"
    handled = visits_tables.handled_events

    async def seen() -> bool:
        async with sessionmaker() as session:
            found = await session.scalar(
                select(handled.c.event_id).where(handled.c.event_id == event_id)
            )
        return found is not None

    await eventually(seen, message=f"withdrawal of visit {visit_id} handled")


async def released_in_matching(
    sessionmaker: Sessionmaker, launched: LaunchedVisit
) -> None:
    async def released() -> bool:
        state = await matching_state(sessionmaker, launched.visit_id)
        return state == ("cancelled", ["released"])

    await eventually(released, message=f"visit {launched.visit_id} released")


class TestBrief:
    async def test_agent_sees_whole_brief(
        self, services: Services, sessionmaker: Sessionmaker
    ) -> None:
        launched = await launch_one_visit(services, sessionmaker, await make_tenant())

        seen = await services.visits.get(
            f"/agent/visits/{launched.visit_id}", headers=launched.agent_headers
        )

        assert seen.status_code == 200, seen.text
        brief = seen.json()["brief"]
        assert brief["objective_kind"] == "negotiate"
        assert brief["negotiation"]["installment_counts"] == [3, 6]
        assert brief["creditor"]["creditor_name"] == "Financiera Ejemplo"
        assert brief["creditor"]["payment"]["reference"] == "REF-123"


class TestPause:
    async def test_pause_cancels_and_releases(
        self, services: Services, sessionmaker: Sessionmaker
    ) -> None:
        launched = await launch_one_visit(services, sessionmaker, await make_tenant())
        assert await agent_load(sessionmaker, launched.agent_id) == 1

        paused = await services.ingest.post(
            f"/campaigns/{launched.campaign_id}/pause", headers=launched.headers
        )

        assert paused.status_code == 200, paused.text
        assert paused.json()["status"] == "paused"
        assert paused.json()["withdrawn_visits"] == 1
        cancelled = await wait_for_visit(sessionmaker, launched.visit_id, "cancelled")
        assert cancelled.state_reason == "campaign_paused"
        [announced] = await read_events(
            topics.VISITS,
            count=1,
            where=lambda e: (
                e.type == "campo.visit.cancelled"
                and e.subject == str(launched.visit_id)
            ),
        )
        assert announced.data["agent_id"] == str(launched.agent_id)
        assert announced.data["reason"] == "campaign_paused"
        await released_in_matching(sessionmaker, launched)
        assert await agent_load(sessionmaker, launched.agent_id) == 0
        seen = await services.visits.get(
            f"/agent/visits/{launched.visit_id}", headers=launched.agent_headers
        )
        assert seen.status_code == 404
        listed = await services.visits.get(
            "/agent/visits", headers=launched.agent_headers
        )
        assert listed.json()["items"] == []

    async def test_resume_requests_new_attempt(
        self, services: Services, sessionmaker: Sessionmaker
    ) -> None:
        launched = await launch_one_visit(services, sessionmaker, await make_tenant())
        path = f"/campaigns/{launched.campaign_id}"
        await services.ingest.post(f"{path}/pause", headers=launched.headers)
        await wait_for_visit(sessionmaker, launched.visit_id, "cancelled")

        resumed = await services.ingest.post(f"{path}/resume", headers=launched.headers)

        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["status"] == "launched"
        assert resumed.json()["requested_visits"] == 1
        first, second = await campaign_visit_ids(sessionmaker, launched.campaign_id)
        assert first == launched.visit_id
        assert second != launched.visit_id
        # The agent's only slot was freed by the pause, so it takes the new one.
        await accept_offer(services, launched.agent_headers, second)
        again = await wait_for_visit(sessionmaker, second, "assigned")
        assert again.agent_id == launched.agent_id
        assert again.attempt == 2
        assert await agent_load(sessionmaker, launched.agent_id) == 1

    async def test_checked_in_visit_left_alone(
        self, services: Services, sessionmaker: Sessionmaker
    ) -> None:
        launched = await launch_one_visit(services, sessionmaker, await make_tenant())
        checked_in = await services.visits.post(
            f"/agent/visits/{launched.visit_id}/check-in",
            headers=launched.agent_headers,
            json={
                "lat": launched.where.lat,
                "lon": launched.where.lon,
                "accuracy_m": 10,
                "device_time": datetime.now(UTC).isoformat(),
            },
        )
        assert checked_in.status_code == 201, checked_in.text

        cancelled = await services.ingest.post(
            f"/campaigns/{launched.campaign_id}/cancel", headers=launched.headers
        )

        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        await withdrawal_handled(sessionmaker, launched.visit_id)
        visit = await wait_for_visit(sessionmaker, launched.visit_id, "checked_in")
        assert visit.state_reason is None
        seen = await services.visits.get(
            f"/agent/visits/{launched.visit_id}", headers=launched.agent_headers
        )
        assert seen.status_code == 200


class TestAccountWithdrawals:
    async def test_recall_withdraws_open_visit(
        self, services: Services, sessionmaker: Sessionmaker
    ) -> None:
        launched = await launch_one_visit(services, sessionmaker, await make_tenant())

        recalled = await services.ingest.post(
            f"/accounts/{launched.account_key}/recall",
            headers=launched.headers,
            json={"note": "Liquidada con el acreedor"},
        )

        assert recalled.status_code == 200, recalled.text
        assert recalled.json()["recalled_at"] is not None
        cancelled = await wait_for_visit(sessionmaker, launched.visit_id, "cancelled")
        assert cancelled.state_reason == "account_recalled"
        await released_in_matching(sessionmaker, launched)
        preview = await services.ingest.get(
            f"/campaigns/{launched.campaign_id}/preview", headers=launched.headers
        )
        assert preview.status_code == 200, preview.text
        assert preview.json()["selected"] == 0
        assert preview.json()["exclusions"] == [
            {"flag": "recalled", "reason": None, "count": 1}
        ]

    async def test_do_not_contact_withdraws_open_visit(
        self, services: Services, sessionmaker: Sessionmaker
    ) -> None:
        launched = await launch_one_visit(services, sessionmaker, await make_tenant())

        flagged = await services.ingest.patch(
            f"/accounts/{launched.account_key}",
            headers=launched.headers,
            json={"do_not_contact": {"reason": "lawyer"}},
        )

        assert flagged.status_code == 200, flagged.text
        assert flagged.json()["do_not_contact_reason"] == "lawyer"
        cancelled = await wait_for_visit(sessionmaker, launched.visit_id, "cancelled")
        assert cancelled.state_reason == "do_not_contact"
        await released_in_matching(sessionmaker, launched)
