"""The agent earnings ledger: the earning pass, review hooks and the summaries."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from ingest.tenants import CreatedTenant
from shared.events.payloads import Money
from shared.runtime import ServiceRuntime
from shared.tenancy import platform_scope
from tests.fixtures.apps import eventually
from tests.fixtures.events import publish
from tests.integration.visits.helpers import (
    AssignedVisit,
    Sessionmaker,
    agent_headers,
    assignment_for,
    check_in_body,
    event_types,
    result_body,
    tenant_headers,
    visit_events,
    visit_requested,
    visit_row,
)
from visits.earnings import earn_closed_windows
from visits.models import AgentEarning
from visits.settings import VisitsSettings

WINDOW = timedelta(hours=VisitsSettings().review_window_hours)
MXN_120 = Money(amount=Decimal("120.00"), currency="MXN")


@pytest.fixture
def runtime(visits: httpx.AsyncClient) -> ServiceRuntime:
    app_runtime: ServiceRuntime = visits._transport.app.state.runtime  # type: ignore[attr-defined]
    return app_runtime


async def earn(runtime: ServiceRuntime, now: datetime) -> int:
    """Run the earning pass as if the clock read `now`."""
    # The service runs the pass in a background task under the platform scope.
    with platform_scope():
        earned = await earn_closed_windows(
            runtime.sessionmaker, emit=runtime.emit, now=now, review_window=WINDOW
        )
    runtime.relay.notify()
    return earned


async def completed_visit(
    client: httpx.AsyncClient,
    tenant: CreatedTenant,
    *,
    agent_id: uuid.UUID,
    fee: Money = MXN_120,
) -> AssignedVisit:
    """A visit for `fee`, assigned to the agent, checked in and completed."""
    request = visit_requested(tenant.tenant_id).model_copy(update={"fee": fee})
    await publish([request, assignment_for(request, agent_id)])
    visit = AssignedVisit(request, agent_id, agent_headers(agent_id))

    async def visible() -> bool:
        response = await client.get(visit.path, headers=visit.headers)
        return response.status_code == 200

    await eventually(visible, message=f"visit {request.visit_id} assigned")
    ten_minutes_ago = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    checked_in = await client.post(
        f"{visit.path}/check-in",
        json=check_in_body(device_time=ten_minutes_ago),
        headers=visit.headers,
    )
    assert checked_in.status_code == 201, checked_in.text
    filed = await client.post(
        f"{visit.path}/result", json=result_body(), headers=visit.headers
    )
    assert filed.status_code == 201, filed.text
    return visit


async def window_closes(sessionmaker: Sessionmaker, visit: AssignedVisit) -> datetime:
    row = await visit_row(sessionmaker, visit.request.visit_id)
    assert row is not None and row.completed_at is not None
    return row.completed_at + WINDOW


async def ledger(
    sessionmaker: Sessionmaker, visit: AssignedVisit
) -> list[tuple[str, str, Decimal]]:
    """The visit's movements in the order written: kind, reason, amount."""
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(AgentEarning)
            .where(AgentEarning.visit_id == visit.request.visit_id)
            .order_by(AgentEarning.recorded_at, AgentEarning.amount.desc())
        )
        return [(row.kind, row.reason, row.amount) for row in rows]


async def reject(
    client: httpx.AsyncClient, tenant: CreatedTenant, visit: AssignedVisit
) -> None:
    response = await client.post(
        f"/visits/{visit.request.visit_id}/reject",
        json={"reason": "Photo of another house"},
        headers=tenant_headers(tenant),
    )
    assert response.status_code == 201, response.text


async def appeal_and_resolve(
    client: httpx.AsyncClient,
    tenant: CreatedTenant,
    visit: AssignedVisit,
    outcome: str,
) -> dict[str, Any]:
    appealed = await client.post(
        f"{visit.path}/appeal", json={"text": "It is the house"}, headers=visit.headers
    )
    assert appealed.status_code == 201, appealed.text
    resolved = await client.post(
        f"/visits/{visit.request.visit_id}/appeal/resolve",
        json={"outcome": outcome},
        headers=tenant_headers(tenant),
    )
    assert resolved.status_code == 200, resolved.text
    body: dict[str, Any] = resolved.json()
    return body


def days_around(moment: datetime, days: int = 5) -> dict[str, str]:
    """A period of whole UTC days from the day before `moment`."""
    start = moment.date() - timedelta(days=1)
    return {"from": start.isoformat(), "to": (start + timedelta(days=days)).isoformat()}


async def my_earnings(
    client: httpx.AsyncClient, agent_id: uuid.UUID, **params: Any
) -> dict[str, Any]:
    response = await client.get(
        "/agents/me/earnings", params=params, headers=agent_headers(agent_id)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def totals_by_currency(body: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    return {
        entry["currency"]: (
            entry["pending"],
            entry["earned"],
            entry["reversed"],
            entry["net"],
            str(entry["visit_count"]),
        )
        for entry in body["totals"]
    }


class TestEarningPass:
    async def test_pending_then_earned_at_window_close(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
        runtime: ServiceRuntime,
    ) -> None:
        agent_id = uuid.uuid4()
        visit = await completed_visit(visits, tenant, agent_id=agent_id)
        closes = await window_closes(sessionmaker, visit)
        period = days_around(closes - WINDOW)

        pending = await my_earnings(visits, agent_id, **period)
        assert totals_by_currency(pending) == {
            "MXN": ("120.00", "0.00", "0.00", "0.00", "1")
        }
        assert pending["movements"] == []

        await earn(runtime, closes - timedelta(microseconds=1))
        assert await ledger(sessionmaker, visit) == []

        await earn(runtime, closes)
        assert await ledger(sessionmaker, visit) == [
            ("earned", "review_window_closed", Decimal("120.00"))
        ]
        earned = await my_earnings(visits, agent_id, **period)
        assert totals_by_currency(earned) == {
            "MXN": ("0.00", "120.00", "0.00", "120.00", "1")
        }
        [movement] = earned["movements"]
        assert datetime.fromisoformat(movement["occurred_at"]) == closes
        assert movement["visit_id"] == str(visit.request.visit_id)

        events = await visit_events(sessionmaker, visit.request.visit_id)
        [fee_event] = [e for e in events if e.type == "campo.agent.fee_earned"]
        assert fee_event.data["amount"] == {"amount": "120.00", "currency": "MXN"}
        assert fee_event.data["agent_id"] == str(agent_id)

    async def test_repeated_pass_writes_one_row(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
        runtime: ServiceRuntime,
    ) -> None:
        visit = await completed_visit(visits, tenant, agent_id=uuid.uuid4())
        closes = await window_closes(sessionmaker, visit)
        await asyncio.gather(earn(runtime, closes), earn(runtime, closes))
        assert await earn(runtime, closes) == 0
        assert await ledger(sessionmaker, visit) == [
            ("earned", "review_window_closed", Decimal("120.00"))
        ]

    async def test_rejected_inside_window_never_earned(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
        runtime: ServiceRuntime,
    ) -> None:
        agent_id = uuid.uuid4()
        visit = await completed_visit(visits, tenant, agent_id=agent_id)
        closes = await window_closes(sessionmaker, visit)
        await reject(visits, tenant, visit)
        await earn(runtime, closes + timedelta(days=30))
        assert await ledger(sessionmaker, visit) == []
        summary = await my_earnings(visits, agent_id, **days_around(closes))
        assert summary["totals"] == []

    async def test_overturned_appeal_earns_at_resolution(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
        runtime: ServiceRuntime,
    ) -> None:
        agent_id = uuid.uuid4()
        visit = await completed_visit(visits, tenant, agent_id=agent_id)
        closes = await window_closes(sessionmaker, visit)
        await reject(visits, tenant, visit)
        review = await appeal_and_resolve(visits, tenant, visit, "overturned")
        await earn(runtime, closes + timedelta(days=1))

        assert await ledger(sessionmaker, visit) == [
            ("earned", "appeal_overturned", Decimal("120.00"))
        ]
        summary = await my_earnings(visits, agent_id, **days_around(closes - WINDOW))
        [movement] = summary["movements"]
        assert movement["occurred_at"] == review["resolved_at"]
        events = event_types(await visit_events(sessionmaker, visit.request.visit_id))
        assert events[-2:] == ["campo.visit.appeal_resolved", "campo.agent.fee_earned"]

    async def test_upheld_appeal_leaves_fee_unearned(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
        runtime: ServiceRuntime,
    ) -> None:
        visit = await completed_visit(visits, tenant, agent_id=uuid.uuid4())
        closes = await window_closes(sessionmaker, visit)
        await reject(visits, tenant, visit)
        await appeal_and_resolve(visits, tenant, visit, "upheld")
        await earn(runtime, closes + timedelta(days=1))
        assert await ledger(sessionmaker, visit) == []

    async def test_late_rejection_reverses_fee(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
        runtime: ServiceRuntime,
    ) -> None:
        # A pass whose clock runs ahead earns the fee while the director may
        # still reject; the rejection must then take the fee back.
        agent_id = uuid.uuid4()
        visit = await completed_visit(visits, tenant, agent_id=agent_id)
        closes = await window_closes(sessionmaker, visit)
        await earn(runtime, closes)
        await reject(visits, tenant, visit)
        assert await ledger(sessionmaker, visit) == [
            ("earned", "review_window_closed", Decimal("120.00")),
            ("reversed", "rejected", Decimal("-120.00")),
        ]
        period = days_around(closes - WINDOW)
        summary = await my_earnings(visits, agent_id, **period)
        assert totals_by_currency(summary) == {
            "MXN": ("0.00", "120.00", "-120.00", "0.00", "1")
        }
        events = event_types(await visit_events(sessionmaker, visit.request.visit_id))
        assert events[-2:] == ["campo.visit.rejected", "campo.agent.fee_reversed"]

        await appeal_and_resolve(visits, tenant, visit, "overturned")
        assert (await ledger(sessionmaker, visit))[-1] == (
            "earned",
            "appeal_overturned",
            Decimal("120.00"),
        )
        summary = await my_earnings(visits, agent_id, **period)
        assert totals_by_currency(summary)["MXN"][3] == "120.00"

    async def test_ledger_refuses_update_and_delete(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
        runtime: ServiceRuntime,
    ) -> None:
        visit = await completed_visit(visits, tenant, agent_id=uuid.uuid4())
        await earn(runtime, await window_closes(sessionmaker, visit))
        mine = AgentEarning.visit_id == visit.request.visit_id
        for statement in (
            update(AgentEarning).where(mine).values(amount=Decimal("999")),
            delete(AgentEarning).where(mine),
        ):
            async with sessionmaker() as session, session.begin():
                with pytest.raises(DBAPIError, match="insert-only"):
                    await session.execute(statement)
        assert len(await ledger(sessionmaker, visit)) == 1


class TestEarningsSummary:
    async def test_totals_per_currency(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
        runtime: ServiceRuntime,
    ) -> None:
        agent_id = uuid.uuid4()
        usd = Money(amount=Decimal("15.00"), currency="USD")
        first = await completed_visit(visits, tenant, agent_id=agent_id)
        dollars = await completed_visit(visits, tenant, agent_id=agent_id, fee=usd)
        # Completed after the pass's clock: still pending.
        pending_fee = Money(amount=Decimal("80.50"), currency="MXN")
        await completed_visit(visits, tenant, agent_id=agent_id, fee=pending_fee)
        await earn(runtime, await window_closes(sessionmaker, dollars))

        period = days_around(await window_closes(sessionmaker, first) - WINDOW)
        summary = await my_earnings(visits, agent_id, **period)
        assert totals_by_currency(summary) == {
            "MXN": ("80.50", "120.00", "0.00", "120.00", "2"),
            "USD": ("0.00", "15.00", "0.00", "15.00", "1"),
        }
        assert summary["total"] == 2

    async def test_period_start_included_end_excluded(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
        runtime: ServiceRuntime,
    ) -> None:
        agent_id = uuid.uuid4()
        visit = await completed_visit(visits, tenant, agent_id=agent_id)
        closes = await window_closes(sessionmaker, visit)
        await earn(runtime, closes)
        tick = timedelta(milliseconds=1)
        before, after = (closes - tick).isoformat(), (closes + tick).isoformat()

        async def movements(start: str, end: str) -> int:
            body = await my_earnings(visits, agent_id, **{"from": start, "to": end})
            return int(body["total"])

        assert await movements(closes.isoformat(), after) == 1
        assert await movements(before, closes.isoformat()) == 0
        assert await movements(after, (closes + timedelta(days=1)).isoformat()) == 0
        day = closes.date().isoformat()
        assert await movements(day, day) == 1

    async def test_movements_paged_newest_first(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
        runtime: ServiceRuntime,
    ) -> None:
        agent_id = uuid.uuid4()
        done = [
            await completed_visit(visits, tenant, agent_id=agent_id) for _ in range(3)
        ]
        await earn(runtime, await window_closes(sessionmaker, done[-1]))
        period = days_around(await window_closes(sessionmaker, done[0]))
        first = await my_earnings(visits, agent_id, **period, limit=2)
        rest = await my_earnings(visits, agent_id, **period, limit=2, offset=2)

        assert first["total"] == 3
        assert rest["total"] == 3
        paged = [m["visit_id"] for m in first["movements"] + rest["movements"]]
        assert paged == [str(visit.request.visit_id) for visit in reversed(done)]

    @pytest.mark.parametrize(
        ("params", "location", "named"),
        [
            ({"from": "2026-12-10", "to": "2026-12-01"}, "query.from", "2026-12-10"),
            ({"from": "2025-01-01", "to": "2026-06-30"}, "query.to", "2026-06-30"),
            ({"from": "2026-12-01T08:00:00", "to": "2026-12-02"}, "query.from", "08"),
        ],
    )
    async def test_bad_period_is_422_naming_values(
        self,
        visits: httpx.AsyncClient,
        params: dict[str, str],
        location: str,
        named: str,
    ) -> None:
        response = await visits.get(
            "/agents/me/earnings", params=params, headers=agent_headers(uuid.uuid4())
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        [error] = response.json()["errors"]
        assert error["location"] == location
        assert named in response.json()["detail"]

    async def test_missing_period_is_422(self, visits: httpx.AsyncClient) -> None:
        response = await visits.get(
            "/agents/me/earnings",
            params={"from": "2026-12-01"},
            headers=agent_headers(uuid.uuid4()),
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"


class TestEarningsAccess:
    async def test_agent_sees_only_its_own(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
        runtime: ServiceRuntime,
    ) -> None:
        mine, theirs = uuid.uuid4(), uuid.uuid4()
        visit = await completed_visit(visits, tenant, agent_id=mine)
        other = await completed_visit(visits, tenant, agent_id=theirs)
        await earn(runtime, await window_closes(sessionmaker, other))

        summary = await my_earnings(
            visits, mine, **days_around(await window_closes(sessionmaker, visit))
        )
        assert summary["agent_id"] == str(mine)
        assert [m["visit_id"] for m in summary["movements"]] == [
            str(visit.request.visit_id)
        ]

    async def test_tenant_reads_only_its_own_visits(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        other_tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
        runtime: ServiceRuntime,
    ) -> None:
        shared_agent, loyal_agent = uuid.uuid4(), uuid.uuid4()
        ours = await completed_visit(visits, tenant, agent_id=shared_agent)
        fee = Money(amount=Decimal("99.00"), currency="MXN")
        await completed_visit(visits, other_tenant, agent_id=shared_agent, fee=fee)
        loyal = await completed_visit(visits, tenant, agent_id=loyal_agent)
        await earn(runtime, await window_closes(sessionmaker, loyal))
        period = days_around(await window_closes(sessionmaker, ours))

        response = await visits.get(
            f"/agents/{shared_agent}/earnings",
            params=period,
            headers=tenant_headers(tenant),
        )
        assert response.status_code == 200, response.text
        assert totals_by_currency(response.json()) == {
            "MXN": ("0.00", "120.00", "0.00", "120.00", "1")
        }
        both = await my_earnings(visits, shared_agent, **period)
        assert totals_by_currency(both)["MXN"][1] == "219.00"

        stranger = await visits.get(
            f"/agents/{loyal_agent}/earnings",
            params=period,
            headers=tenant_headers(other_tenant),
        )
        assert stranger.status_code == 404, stranger.text
        assert str(loyal_agent) in stranger.json()["detail"]

    async def test_agent_token_refused_on_tenant_route(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_id = uuid.uuid4()
        response = await visits.get(
            f"/agents/{agent_id}/earnings",
            params={"from": "2026-12-01", "to": "2026-12-02"},
            headers=agent_headers(agent_id),
        )
        assert response.status_code == 401, response.text
