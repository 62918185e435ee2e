"""Misspelt body fields and query parameters get a 422 that names them.

Dropped without a word, `mock_locaton: true` would file a verified
check-in, and `?campaign=` would list every visit of the tenant.
"""

import json

import httpx

from ingest.tenants import CreatedTenant
from tests.integration.visits.helpers import (
    assigned_visit,
    check_in_body,
    tenant_headers,
)


def problem_text(response: httpx.Response) -> str:
    body = response.json()
    return " ".join(
        [body.get("detail", "")] + [e["message"] for e in body.get("errors", [])]
    )


class TestUnknownNames:
    async def test_misspelt_check_in_field_files_nothing(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        visit = await assigned_visit(visits, tenant.tenant_id)

        response = await visits.post(
            f"{visit.path}/check-in",
            json=check_in_body(mock_locaton=True),
            headers=visit.headers,
        )
        after = await visits.get(visit.path, headers=visit.headers)

        assert response.status_code == 422, response.text
        assert "unknown field mock_locaton;" in problem_text(response)
        assert "mock_location" in problem_text(response)
        assert after.json()["state"] == "assigned"

    async def test_misspelt_rules_patch_changes_nothing(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        headers = tenant_headers(tenant) | {
            "Content-Type": "application/merge-patch+json"
        }
        before = await visits.get(
            "/settings/visit-rules", headers=tenant_headers(tenant)
        )

        response = await visits.patch(
            "/settings/visit-rules",
            content=json.dumps({"max_visits_per_acount_week": 1}),
            headers=headers,
        )
        after = await visits.get(
            "/settings/visit-rules", headers=tenant_headers(tenant)
        )

        assert response.status_code == 422, response.text
        assert "max_visits_per_acount_week" in problem_text(response)
        assert after.json() == before.json()

    async def test_misspelt_list_filter(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        response = await visits.get(
            "/visits",
            params={"campaign": "5b0c2a4e-0000-4000-8000-000000000001"},
            headers=tenant_headers(tenant),
        )

        assert response.status_code == 422, response.text
        assert "unknown query parameter 'campaign'" in problem_text(response)
        assert "campaign_id" in problem_text(response)
