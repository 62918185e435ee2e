"""Misspelt query parameters and body fields get a 422, never a wider result."""

import httpx

from ingest.tenants import CreatedTenant
from tests.integration.reporting.helpers import auth


class TestUnknownNames:
    async def test_misspelt_query_parameter_names_valid_ones(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        response = await reporting.get(
            "/campaigns", params={"limt": "5"}, headers=auth(tenant)
        )

        assert response.status_code == 422, response.text
        body = response.json()
        assert body["detail"].startswith("query.limt: unknown query parameter 'limt'")
        assert "the valid ones are limit, offset" in body["detail"]

    async def test_known_query_parameters_still_work(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        response = await reporting.get(
            "/campaigns", params={"limit": "5"}, headers=auth(tenant)
        )

        assert response.status_code == 200, response.text

    async def test_endpoint_without_parameters_refuses_any(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        response = await reporting.get(
            "/webhooks", params={"enabled": "false"}, headers=auth(tenant)
        )

        assert response.status_code == 422, response.text
        assert "the valid ones are none" in response.json()["detail"]

    async def test_misspelt_body_field(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        response = await reporting.post(
            "/webhooks",
            json={
                "url": "http://127.0.0.1:9/hook",
                "event_types": ["visit.completed"],
                "enabeld": False,
            },
            headers=auth(tenant),
        )

        assert response.status_code == 422, response.text
        assert "unknown field enabeld;" in response.json()["detail"]

    async def test_nul_in_a_filter_names_the_parameter(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        response = await reporting.get(
            "/audit", params={"actor": "x\x00"}, headers=auth(tenant)
        )

        assert response.status_code == 422, response.text
        assert response.json()["detail"] == (
            "query.actor: actor contains a NUL character (\\x00); remove it"
        )
