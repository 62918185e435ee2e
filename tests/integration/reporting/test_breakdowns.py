"""Figures per agent, zone and day, reviews and promises, and the leaderboard."""

import uuid
from collections import Counter
from datetime import timedelta

import httpx
import pytest

from ingest.tenants import CreatedTenant
from shared.events.payloads import AppealOutcome, PromiseKept, PromisePartlyKept
from tests.fixtures.events import publish
from tests.integration.reporting.figure_flows import ZonedFlow, get_json
from tests.integration.reporting.helpers import (
    EXPECTED_FIGURES,
    assert_figures,
    auth,
    provision_tenant,
    wait_consumed,
)


async def published(tenant: CreatedTenant) -> ZonedFlow:
    flow = ZonedFlow(tenant.tenant_id)
    await publish(flow.all_events())
    await wait_consumed()
    return flow


def summary_path(flow: ZonedFlow) -> str:
    return f"/campaigns/{flow.campaign_id}/summary"


class TestSummaryFigures:
    async def test_new_figures_counted(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = await published(tenant)

        summary = await get_json(reporting, tenant, summary_path(flow))

        assert_figures(summary, EXPECTED_FIGURES)
        assert summary["accounts_visited"] == 5
        assert summary["visits_visited"] == 3
        assert summary["visits_rejected"] == 0
        assert summary["visits_flagged"] == 1
        # Visit 2 was filed after its three-day deadline.
        assert summary["within_deadline_rate"] == 2 / 3

    async def test_rejected_visit_not_completed(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = await published(tenant)
        await publish([flow.rejected(0, 20000)])
        await wait_consumed()

        summary = await get_json(reporting, tenant, summary_path(flow))

        assert summary["visits_completed"] == 2
        assert summary["visits_rejected"] == 1
        assert summary["visits_final"] == 4
        # Visit 0 had the promise and the debtor: both leave the figures.
        assert summary["contact_rate"] == 1 / 2
        assert summary["promises"] == 0
        assert summary["promised_amount"] == "0.00"

    async def test_overturned_appeal_completes_again(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = await published(tenant)
        await publish(
            [
                flow.rejected(0, 20000),
                flow.appeal_resolved(0, AppealOutcome.OVERTURNED, 30000),
            ]
        )
        await wait_consumed()

        summary = await get_json(reporting, tenant, summary_path(flow))

        assert summary["visits_completed"] == 3
        assert summary["visits_rejected"] == 0
        assert summary["promised_amount"] == "1500.00"

    async def test_upheld_appeal_stays_rejected(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = await published(tenant)
        await publish(
            [flow.rejected(1, 20000), flow.appeal_resolved(1, AppealOutcome.UPHELD, 1)]
        )
        await wait_consumed()

        summary = await get_json(reporting, tenant, summary_path(flow))

        assert summary["visits_completed"] == 2
        assert summary["visits_rejected"] == 1

    async def test_latest_promise_status_wins(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = await published(tenant)
        # The older partial payment arrives after the later full one.
        await publish(
            [
                flow.promise(PromiseKept, "1500.00", 9 * 86400),
                flow.promise(PromisePartlyKept, "1000.00", 8 * 86400),
            ]
        )
        await wait_consumed()

        summary = await get_json(reporting, tenant, summary_path(flow))

        assert summary["promises_kept"] == 1
        assert summary["promises_partly_kept"] == 0
        assert summary["kept_amount"] == "1500.00"


class TestAgents:
    async def test_figures_per_agent(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = await published(tenant)
        await publish([flow.rejected(1, 20000)])
        await wait_consumed()

        body = await get_json(
            reporting, tenant, f"/campaigns/{flow.campaign_id}/agents"
        )

        first, second = body["agents"]
        assert first["agent_id"] == str(flow.agent_id)
        assert first["visits_requested"] == 3
        assert first["visits_completed"] == 2
        assert first["visits_rejected"] == 1
        assert first["visits_flagged"] == 1
        assert first["promised_amount"] == "1500.00"
        assert first["display_name"] is None
        # The second agent took visit 4 after the first gave it back.
        assert second["agent_id"] == str(flow.second_agent_id)
        assert second["visits_assigned"] == 1
        assert second["visits_completed"] == 0


class TestZones:
    async def test_figures_per_municipality(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = await published(tenant)

        body = await get_json(
            reporting,
            tenant,
            f"/campaigns/{flow.campaign_id}/zones",
            {"level": "municipality"},
        )

        zones = [
            (
                z["state"],
                z["municipality"],
                z["visits_requested"],
                z["visits_completed"],
            )
            for z in body["zones"]
        ]
        assert zones == [
            ("Jalisco", "Guadalajara", 2, 2),
            ("Jalisco", "Zapopan", 2, 1),
            ("Ciudad de México", "Coyoacán", 1, 0),
        ]

    async def test_figures_per_state_and_postal_code(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = await published(tenant)
        path = f"/campaigns/{flow.campaign_id}/zones"

        states = await get_json(reporting, tenant, path, {"level": "state"})
        codes = await get_json(reporting, tenant, path, {"level": "postal_code"})

        by_state = {z["state"]: z["visits_requested"] for z in states["zones"]}
        assert by_state == {"Jalisco": 4, "Ciudad de México": 1}
        by_code = [(z["postal_code"], z["visits_requested"]) for z in codes["zones"]]
        assert by_code == [("44100", 2), ("04000", 1), ("45000", 1), ("45010", 1)]


class TestDays:
    async def test_each_event_counts_on_its_own_day(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = await published(tenant)
        window = {
            "from": flow.day_of(-86400).isoformat(),
            "to": flow.day_of(20 * 86400).isoformat(),
            "tz": "UTC",
        }

        body = await get_json(
            reporting, tenant, f"/campaigns/{flow.campaign_id}/days", window
        )

        assert body["time_zone"] == "UTC"
        got = {day["day"]: day for day in body["days"]}
        completed = Counter(flow.day_of(s).isoformat() for s in (5400, 9000, 361800))
        assigned = Counter(flow.day_of(s).isoformat() for s in (600, 1200, 1800, 2400))
        for day, figures in got.items():
            assert figures["visits_completed"] == completed[day], day
            assert figures["visits_assigned"] == assigned[day], day
        assert got[flow.day_of(0).isoformat()]["visits_requested"] == 5
        assert sum(d["visits_requested"] for d in got.values()) == 5

    async def test_tenant_zone_by_default(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = await published(tenant)

        body = await get_json(reporting, tenant, f"/campaigns/{flow.campaign_id}/days")

        assert body["time_zone"] == "America/Mexico_City"


class TestLeaderboard:
    async def test_tenant_period_and_campaign(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        recent = ZonedFlow(tenant.tenant_id)
        older = ZonedFlow(
            tenant.tenant_id,
            t0=recent.t0 - timedelta(days=40),
            agent_id=recent.agent_id,
        )
        await publish([*recent.all_events(), *older.all_events()])
        await wait_consumed()
        agent = str(recent.agent_id)

        overall = await get_json(reporting, tenant, "/leaderboard")
        period = await get_json(
            reporting,
            tenant,
            "/leaderboard",
            {"from": recent.day_of(-86400).isoformat(), "tz": "UTC"},
        )
        one = await get_json(
            reporting,
            tenant,
            "/leaderboard",
            {"campaign_id": str(older.campaign_id), "limit": "1"},
        )

        assert overall["agents"][0]["agent_id"] == agent
        assert overall["agents"][0]["visits_completed"] == 6
        assert len(overall["agents"]) == 3
        assert overall["sorted_by"][0] == "visits_completed desc"
        assert period["agents"][0]["visits_completed"] == 3
        assert period["first_day"] == recent.day_of(-86400).isoformat()
        assert [a["agent_id"] for a in one["agents"]] == [agent]
        assert one["agents"][0]["visits_completed"] == 3


class TestRequestValues:
    @pytest.mark.parametrize(
        ("path", "params", "named"),
        [
            ("zones", {"level": "country"}, "country"),
            ("days", {"from": "2026-02-30"}, "2026-02-30"),
            ("days", {"from": "2026-03-02", "to": "2026-03-01"}, "2026-03-02"),
            ("days", {"from": "2024-01-01", "to": "2026-01-01"}, "2024-01-01"),
            ("days", {"tz": "Mars/Olympus"}, "Mars/Olympus"),
        ],
    )
    async def test_bad_value_named_in_problem(
        self,
        path: str,
        params: dict[str, str],
        named: str,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
    ) -> None:
        response = await reporting.get(
            f"/campaigns/{uuid.uuid4()}/{path}", params=params, headers=auth(tenant)
        )

        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert named in response.text

    @pytest.mark.parametrize(
        ("name", "value"),
        [("campaign_id", "nope"), ("limit", "0"), ("to", "yesterday")],
    )
    async def test_bad_leaderboard_value_rejected(
        self,
        name: str,
        value: str,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
    ) -> None:
        response = await reporting.get(
            "/leaderboard", params={name: value}, headers=auth(tenant)
        )

        assert response.status_code == 422, response.text
        assert value in response.text

    @pytest.mark.parametrize("path", ["agents", "zones", "days"])
    async def test_other_tenants_campaign_not_found(
        self, path: str, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = await published(tenant)
        other = await provision_tenant(reporting)

        response = await reporting.get(
            f"/campaigns/{flow.campaign_id}/{path}", headers=auth(other)
        )
        board = await reporting.get(
            "/leaderboard",
            params={"campaign_id": str(flow.campaign_id)},
            headers=auth(other),
        )

        assert response.status_code == 404
        assert str(flow.campaign_id) in response.json()["detail"]
        assert board.status_code == 404
