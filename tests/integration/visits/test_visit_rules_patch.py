"""PATCH of the visit rules: a JSON Merge Patch that changes only what it names."""

import json
from typing import Any

import httpx
import pytest

from ingest.tenants import CreatedTenant
from tests.integration.visits.conftest import _tenant_known
from tests.integration.visits.helpers import tenant_headers

PATH = "/settings/visit-rules"
MERGE_PATCH = "application/merge-patch+json"


async def patch(
    client: httpx.AsyncClient,
    tenant: CreatedTenant,
    body: Any,
    content_type: str = MERGE_PATCH,
) -> httpx.Response:
    headers = tenant_headers(tenant) | {"Content-Type": content_type}
    return await client.patch(PATH, content=json.dumps(body), headers=headers)


async def put(
    client: httpx.AsyncClient, tenant: CreatedTenant, body: dict[str, Any]
) -> httpx.Response:
    return await client.put(PATH, json=body, headers=tenant_headers(tenant))


class TestPatchVisitRules:
    async def test_patch_keeps_the_rules_it_leaves_out(
        self, visits: httpx.AsyncClient
    ) -> None:
        tenant = await _tenant_known(visits)
        await put(
            visits,
            tenant,
            {"max_visits_per_account_week": 4, "promise_grace_days": 10},
        )

        response = await patch(visits, tenant, {"max_visits_per_account_week": 2})
        stored = await visits.get(PATH, headers=tenant_headers(tenant))

        assert response.status_code == 200, response.text
        assert response.json() == {
            "max_visits_per_account_week": 2,
            "promise_grace_days": 10,
        }
        assert stored.json() == response.json()

    async def test_patch_grace_alone_keeps_the_limit(
        self, visits: httpx.AsyncClient
    ) -> None:
        tenant = await _tenant_known(visits)
        await put(visits, tenant, {"max_visits_per_account_week": 3})

        response = await patch(visits, tenant, {"promise_grace_days": 0})

        assert response.json() == {
            "max_visits_per_account_week": 3,
            "promise_grace_days": 0,
        }

    async def test_null_restores_each_default(self, visits: httpx.AsyncClient) -> None:
        tenant = await _tenant_known(visits)
        await put(
            visits,
            tenant,
            {"max_visits_per_account_week": 4, "promise_grace_days": 10},
        )

        response = await patch(
            visits,
            tenant,
            {"max_visits_per_account_week": None, "promise_grace_days": None},
        )

        assert response.json() == {
            "max_visits_per_account_week": None,
            "promise_grace_days": 3,
        }

    async def test_patch_before_any_rules_starts_from_defaults(
        self, visits: httpx.AsyncClient
    ) -> None:
        tenant = await _tenant_known(visits)

        response = await patch(visits, tenant, {"promise_grace_days": 7})

        assert response.status_code == 200, response.text
        assert response.json() == {
            "max_visits_per_account_week": None,
            "promise_grace_days": 7,
        }

    async def test_put_still_replaces_every_rule(
        self, visits: httpx.AsyncClient
    ) -> None:
        tenant = await _tenant_known(visits)
        await put(
            visits,
            tenant,
            {"max_visits_per_account_week": 4, "promise_grace_days": 10},
        )

        response = await put(visits, tenant, {"max_visits_per_account_week": 4})

        assert response.json()["promise_grace_days"] == 3

    @pytest.mark.parametrize(
        ("body", "location"),
        [
            ({"max_visits_per_account_week": 0}, "body.max_visits_per_account_week"),
            ({"max_visits_per_account_week": True}, "body.max_visits_per_account_week"),
            ({"max_visits_per_account_week": "1"}, "body.max_visits_per_account_week"),
            ({"promise_grace_days": 61}, "body.promise_grace_days"),
            ({"promise_grace_days": -1}, "body.promise_grace_days"),
            ({"promise_grace_days": 1.5}, "body.promise_grace_days"),
            (5, "body"),
            (["promise_grace_days"], "body"),
        ],
    )
    async def test_patch_rejects_what_put_rejects(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant, body: Any, location: str
    ) -> None:
        full = (
            {"max_visits_per_account_week": None} | body
            if isinstance(body, dict)
            else body
        )

        patched = await patch(visits, tenant, body)
        replaced = await visits.put(
            PATH,
            content=json.dumps(full),
            headers=tenant_headers(tenant) | {"Content-Type": "application/json"},
        )

        assert patched.status_code == 422, patched.text
        assert replaced.status_code == 422, replaced.text
        assert patched.headers["content-type"] == "application/problem+json"
        [error] = patched.json()["errors"]
        assert error["location"] == location
        [put_error] = replaced.json()["errors"]
        assert put_error == error

    async def test_invalid_json_rejected(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        headers = tenant_headers(tenant) | {"Content-Type": MERGE_PATCH}

        response = await visits.patch(PATH, content=b"{grace", headers=headers)

        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["location"] == "body"

    @pytest.mark.parametrize("depth", [3_000, 900])
    async def test_deeply_nested_patch_rejected(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant, depth: int
    ) -> None:
        headers = tenant_headers(tenant) | {"Content-Type": MERGE_PATCH}
        body = b'{"a":' * depth + b"1" + b"}" * depth

        response = await visits.patch(PATH, content=body, headers=headers)

        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["location"] == "body"

    async def test_plain_json_is_unsupported(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        response = await patch(
            visits, tenant, {"promise_grace_days": 5}, "application/json"
        )

        assert response.status_code == 415, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert MERGE_PATCH in response.json()["detail"]

    async def test_patch_needs_the_tenant_key(self, visits: httpx.AsyncClient) -> None:
        response = await visits.patch(
            PATH,
            content=b"{}",
            headers={"Content-Type": MERGE_PATCH},
        )
        assert response.status_code == 401

    async def test_openapi_declares_the_merge_patch_body(
        self, visits: httpx.AsyncClient
    ) -> None:
        document = (await visits.get("/openapi.json")).json()

        operation = document["paths"][PATH]["patch"]

        assert list(operation["requestBody"]["content"]) == [MERGE_PATCH]
        assert "415" in operation["responses"]
        assert "full replacement" not in document["paths"][PATH]["put"]["summary"]
        assert "Replaces all the rules" in document["paths"][PATH]["put"]["description"]
