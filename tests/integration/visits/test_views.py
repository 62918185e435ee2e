import uuid

import httpx
import pytest

from ingest.tenants import CreatedTenant
from tests.integration.visits.helpers import (
    QUESTIONS,
    ZOCALO,
    agent_headers,
    assigned_visit,
    check_in_body,
    checked_in_visit,
    offset,
    result_body,
    tenant_headers,
)


class TestAgentVisits:
    async def test_open_visits_carry_full_brief(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await assigned_visit(visits)
        response = await visits.get("/agent/visits", headers=agent_visit.headers)
        assert response.status_code == 200, response.text
        [item] = response.json()["items"]
        request = agent_visit.request
        assert item["visit_id"] == str(request.visit_id)
        assert item["state"] == "assigned"
        assert item["brief"]["objective"] == request.brief.objective
        assert item["brief"]["questions"] == QUESTIONS
        assert item["brief"]["max_discount_pct"] == "15.00"
        assert item["debtor_name"] == request.debtor_name
        assert item["phone"] == request.phone
        assert item["address"] == request.address.model_dump(mode="json")
        assert item["location"]["lat"] == ZOCALO.lat
        assert item["location"]["lon"] == ZOCALO.lon
        assert item["balance_overdue"] == {"amount": "5000.00", "currency": "MXN"}
        assert item["days_past_due"] == 45
        assert item["fee"] == {"amount": "120.00", "currency": "MXN"}
        assert item["deadline"] is not None

    async def test_list_filters_by_state(self, visits: httpx.AsyncClient) -> None:
        agent_visit = await assigned_visit(visits)
        second = await assigned_visit(visits, agent_id=agent_visit.agent_id)
        check_in = await visits.post(
            f"{second.path}/check-in", json=check_in_body(), headers=agent_visit.headers
        )
        assert check_in.status_code == 201, check_in.text

        open_visits = await visits.get("/agent/visits", headers=agent_visit.headers)
        assigned = await visits.get(
            "/agent/visits", params={"state": "assigned"}, headers=agent_visit.headers
        )
        checked_in = await visits.get(
            "/agent/visits", params={"state": "checked_in"}, headers=agent_visit.headers
        )
        assert len(open_visits.json()["items"]) == 2
        assert [v["visit_id"] for v in assigned.json()["items"]] == [
            str(agent_visit.request.visit_id)
        ]
        assert [v["visit_id"] for v in checked_in.json()["items"]] == [
            str(second.request.visit_id)
        ]

    async def test_completed_visit_leaves_open_list(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        result = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(),
            headers=agent_visit.headers,
        )
        assert result.status_code == 201, result.text
        open_visits = await visits.get("/agent/visits", headers=agent_visit.headers)
        completed = await visits.get(
            "/agent/visits", params={"state": "completed"}, headers=agent_visit.headers
        )
        assert open_visits.json()["items"] == []
        assert len(completed.json()["items"]) == 1

    async def test_closed_visit_withholds_debtor_data(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        result = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(),
            headers=agent_visit.headers,
        )
        assert result.status_code == 201, result.text

        detail = await visits.get(agent_visit.path, headers=agent_visit.headers)

        item = detail.json()
        assert detail.status_code == 200
        assert item["debtor_data_withheld"] is True
        assert item["debtor_name"] is None
        assert item["phone"] is None
        assert item["brief"] is None
        assert item["location"] is None
        assert item["balance_overdue"] is None
        assert item["address"]["street"] is None
        assert (
            item["address"]["municipality"] == agent_visit.request.address.municipality
        )
        assert agent_visit.request.debtor_name not in detail.text
        assert item["fee"] is not None

    async def test_open_visit_not_withheld(self, visits: httpx.AsyncClient) -> None:
        agent_visit = await assigned_visit(visits)

        detail = await visits.get(agent_visit.path, headers=agent_visit.headers)

        assert detail.json()["debtor_data_withheld"] is False
        assert detail.json()["debtor_name"] == agent_visit.request.debtor_name

    async def test_other_agents_visit_not_found(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await assigned_visit(visits)
        response = await visits.get(
            agent_visit.path, headers=agent_headers(uuid.uuid4())
        )
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    async def test_missing_visit_not_found(self, visits: httpx.AsyncClient) -> None:
        response = await visits.get(
            f"/agent/visits/{uuid.uuid4()}", headers=agent_headers(uuid.uuid4())
        )
        assert response.status_code == 404

    async def test_tenant_key_rejected_on_agent_api(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        response = await visits.get(
            "/agent/visits",
            headers={"Authorization": f"Bearer {tenant.api_key.key}"},
        )
        assert response.status_code == 401


class TestTenantVisits:
    async def test_list_shows_state_and_first_distance(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        agent_visit = await assigned_visit(visits, tenant.tenant_id)
        first = offset(ZOCALO, north_m=60)
        for point in (first, ZOCALO):
            response = await visits.post(
                f"{agent_visit.path}/check-in",
                json=check_in_body(point),
                headers=agent_visit.headers,
            )
            assert response.status_code == 201, response.text

        response = await visits.get(
            "/visits",
            params={"campaign_id": str(agent_visit.request.campaign_id)},
            headers=tenant_headers(tenant),
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["total"] == 1
        [item] = page["items"]
        assert item["state"] == "checked_in"
        assert item["final"] is False
        assert item["agent_id"] == str(agent_visit.agent_id)
        assert item["assigned_at"] is not None
        assert item["checked_in_at"] is not None
        assert 55 < item["first_check_in_distance_m"] < 65

    async def test_list_filters_by_state(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        agent_visit = await assigned_visit(visits, tenant.tenant_id)
        campaign = str(agent_visit.request.campaign_id)
        headers = tenant_headers(tenant)
        assigned = await visits.get(
            "/visits",
            params={"campaign_id": campaign, "state": "assigned"},
            headers=headers,
        )
        completed = await visits.get(
            "/visits",
            params={"campaign_id": campaign, "state": "completed"},
            headers=headers,
        )
        assert assigned.json()["total"] == 1
        assert completed.json()["total"] == 0

    async def test_detail_includes_result(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        agent_visit = await checked_in_visit(visits, tenant.tenant_id)
        body = result_body()
        submitted = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        assert submitted.status_code == 201, submitted.text

        response = await visits.get(
            f"/visits/{agent_visit.request.visit_id}", headers=tenant_headers(tenant)
        )
        assert response.status_code == 200, response.text
        detail = response.json()
        assert detail["state"] == "completed"
        assert detail["final"] is True
        assert len(detail["check_ins"]) == 1
        assert detail["check_ins"][0]["verified"] is True
        result = detail["result"]
        assert result["result_id"] == submitted.json()["result_id"]
        assert result["person_met"] == "debtor"
        assert result["answers"] == body["answers"]
        assert result["new_phone"] == body["new_phone"]
        assert result["promise"]["amount"] == "1500.00"

    async def test_other_tenants_visit_not_found(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        other_tenant: CreatedTenant,
    ) -> None:
        agent_visit = await assigned_visit(visits, tenant.tenant_id)
        path = f"/visits/{agent_visit.request.visit_id}"
        mine = await visits.get(path, headers=tenant_headers(tenant))
        theirs = await visits.get(path, headers=tenant_headers(other_tenant))
        assert mine.status_code == 200
        assert theirs.status_code == 404
        assert theirs.headers["content-type"] == "application/problem+json"
        listed = await visits.get(
            "/visits",
            params={"campaign_id": str(agent_visit.request.campaign_id)},
            headers=tenant_headers(other_tenant),
        )
        assert listed.json()["total"] == 0

    async def test_missing_key_unauthorized(self, visits: httpx.AsyncClient) -> None:
        response = await visits.get("/visits")
        assert response.status_code == 401


class TestPaging:
    @pytest.mark.parametrize("offset_value", ["9223372036854775808", "1000001", "-1"])
    async def test_offset_out_of_range_rejected(
        self, offset_value: str, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        agent_visit = await assigned_visit(visits)
        for path, headers in [
            ("/visits", tenant_headers(tenant)),
            ("/agent/visits", agent_visit.headers),
        ]:
            response = await visits.get(
                path, params={"offset": offset_value}, headers=headers
            )
            assert response.status_code == 422, (path, response.text)
            assert response.json()["errors"][0]["location"] == "query.offset"

    async def test_largest_offset_accepted(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        agent_visit = await assigned_visit(visits)
        for path, headers in [
            ("/visits", tenant_headers(tenant)),
            ("/agent/visits", agent_visit.headers),
        ]:
            response = await visits.get(
                path, params={"offset": "1000000"}, headers=headers
            )
            assert response.status_code == 200, (path, response.text)
            assert response.json()["items"] == []
