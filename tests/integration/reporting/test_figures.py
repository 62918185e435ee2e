"""Campaign figures from consumed events: exact, idempotent and order-independent."""

import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from ingest.tenants import CreatedTenant
from reporting.app import create_app
from shared.events.payloads import VisitCancelled, VisitExpired, WithdrawalReason
from shared.kafka import create_producer
from shared.settings import ServiceSettings
from tests.fixtures.apps import running_app
from tests.fixtures.events import publish, send_envelope
from tests.integration.reporting.helpers import (
    EXPECTED_FIGURES,
    CampaignFlow,
    assert_figures,
    auth,
    provision_tenant,
    wait_consumed,
)


async def summary_of(
    client: httpx.AsyncClient, tenant: CreatedTenant, campaign_id: uuid.UUID
) -> dict[str, object]:
    response = await client.get(
        f"/campaigns/{campaign_id}/summary", headers=auth(tenant)
    )
    assert response.status_code == 200, response.text
    return response.json()


class TestCampaignSummary:
    async def test_figures_exact(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = CampaignFlow(tenant.tenant_id)
        await publish(flow.all_events())
        await wait_consumed()

        summary = await summary_of(reporting, tenant, flow.campaign_id)

        assert_figures(summary, EXPECTED_FIGURES)
        assert summary["campaign_id"] == str(flow.campaign_id)

    async def test_redelivered_events_change_nothing(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = CampaignFlow(tenant.tenant_id)
        envelopes = await publish(flow.all_events())
        await wait_consumed()
        before = await summary_of(reporting, tenant, flow.campaign_id)

        settings = ServiceSettings()
        producer: AIOKafkaProducer = create_producer(settings)
        await producer.start()
        try:
            for envelope, payload in zip(envelopes, flow.all_events(), strict=True):
                await send_envelope(producer, settings, payload.topic, envelope)
        finally:
            await producer.stop()
        await wait_consumed()

        after = await summary_of(reporting, tenant, flow.campaign_id)
        assert after == before
        assert_figures(after, EXPECTED_FIGURES)

    async def test_out_of_order_events_same_figures(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = CampaignFlow(tenant.tenant_id)
        # Results and check-ins first, then assignments, then the requests
        # and the launch: the reverse of the order in which they happen.
        await publish([*flow.results(), *flow.check_ins()])
        await wait_consumed()
        await publish(flow.assignments())
        await wait_consumed()
        partial = await summary_of(reporting, tenant, flow.campaign_id)
        assert partial["name"] is None
        await publish([*flow.requests(), *flow.launch()])
        await wait_consumed()

        summary = await summary_of(reporting, tenant, flow.campaign_id)

        assert_figures(summary, EXPECTED_FIGURES)

    async def test_empty_campaign_rates_null(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = CampaignFlow(tenant.tenant_id)
        await publish(flow.launch())
        await wait_consumed()

        summary = await summary_of(reporting, tenant, flow.campaign_id)

        assert summary["visits_requested"] == 0
        assert summary["contact_rate"] is None
        assert summary["located_rate"] is None
        assert summary["promise_rate"] is None
        assert summary["visited_within_72h_rate"] is None
        assert summary["promised_amount"] == "0.00"
        assert summary["time_to_result_seconds"] == {"p50": None, "p90": None}

    async def test_expired_visit_final(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = CampaignFlow(tenant.tenant_id)
        expired = VisitExpired(
            tenant_id=tenant.tenant_id,
            visit_id=flow.visit_ids[0],
            campaign_id=flow.campaign_id,
            account_id=flow.account_ids[0],
            decided_at=flow.at(14 * 86400),
        )
        await publish([expired, *flow.launch(), flow.requested(0), flow.requested(1)])
        await wait_consumed()

        summary = await summary_of(reporting, tenant, flow.campaign_id)

        assert summary["visits_requested"] == 2
        assert summary["visits_expired"] == 1
        assert summary["visits_final"] == 1
        assert summary["visits_open"] == 1
        assert summary["visited_within_72h_rate"] == 0.0

    async def test_cancelled_visit_final_outside_window(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = CampaignFlow(tenant.tenant_id)
        cancelled = VisitCancelled(
            tenant_id=tenant.tenant_id,
            visit_id=flow.visit_ids[0],
            campaign_id=flow.campaign_id,
            account_id=flow.account_ids[0],
            agent_id=None,
            reason=WithdrawalReason.CAMPAIGN_PAUSED,
            decided_at=flow.at(3600),
        )
        await publish([*flow.launch(), flow.requested(0), flow.requested(1), cancelled])
        await wait_consumed()

        summary = await summary_of(reporting, tenant, flow.campaign_id)

        assert summary["visits_requested"] == 2
        assert summary["visits_cancelled"] == 1
        assert summary["visits_final"] == 1
        assert summary["visits_open"] == 1
        # Only the visit still open counts in the first-visit window.
        assert summary["visited_within_72h_rate"] == 0.0

    async def test_other_tenants_campaign_not_found(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        other = await provision_tenant(reporting)
        flow = CampaignFlow(tenant.tenant_id)
        await publish(flow.all_events())
        await wait_consumed()

        response = await reporting.get(
            f"/campaigns/{flow.campaign_id}/summary", headers=auth(other)
        )

        assert response.status_code == 404
        assert str(flow.campaign_id) in response.json()["detail"]
        listing = await reporting.get("/campaigns", headers=auth(other))
        assert listing.json()["campaigns"] == []

    async def test_missing_api_key_unauthorized(
        self, reporting: httpx.AsyncClient
    ) -> None:
        response = await reporting.get(f"/campaigns/{uuid.uuid4()}/summary")

        assert response.status_code == 401


class TestCampaignList:
    async def test_lists_campaigns_with_figures(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        first = CampaignFlow(tenant.tenant_id)
        second = CampaignFlow(tenant.tenant_id)
        await publish([*first.all_events(), *second.launch()])
        await wait_consumed()

        response = await reporting.get("/campaigns", headers=auth(tenant))

        assert response.status_code == 200
        body = response.json()
        by_id = {item["campaign_id"]: item for item in body["campaigns"]}
        assert set(by_id) == {str(first.campaign_id), str(second.campaign_id)}
        short = {
            name: value
            for name, value in EXPECTED_FIGURES.items()
            if not name.startswith("time_to") and name != "promised_by_currency"
        }
        assert_figures(by_id[str(first.campaign_id)], short)
        assert by_id[str(second.campaign_id)]["visits_requested"] == 0

    @pytest.mark.parametrize("offset", ["9223372036854775808", "1000001", "-1"])
    async def test_offset_out_of_range_rejected(
        self, offset: str, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        response = await reporting.get(
            "/campaigns", params={"offset": offset}, headers=auth(tenant)
        )

        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["location"] == "query.offset"

    async def test_largest_offset_accepted(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        response = await reporting.get(
            "/campaigns", params={"offset": "1000000"}, headers=auth(tenant)
        )

        assert response.status_code == 200, response.text
        assert response.json()["campaigns"] == []


class TestStoppedMidFlow:
    async def test_restart_completes_without_doubling(
        self, service_env: object
    ) -> None:
        async with running_app(create_app()) as first:
            tenant = await provision_tenant(first)
            flow = CampaignFlow(tenant.tenant_id)
            await publish([*flow.launch(), *flow.requests(), *flow.assignments()])
            await wait_consumed()
            halfway = await summary_of(first, tenant, flow.campaign_id)
            assert halfway["visits_assigned"] == 4
            assert halfway["visits_completed"] == 0

        await publish([*flow.check_ins(), *flow.results()])

        async with running_app(create_app()) as second:
            await wait_consumed()
            summary = await summary_of(second, tenant, flow.campaign_id)

        assert_figures(summary, EXPECTED_FIGURES)
