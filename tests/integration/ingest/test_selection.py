"""Selections by filter and by list, their previews, and flagged accounts."""

from decimal import Decimal
from typing import Any

import httpx
import pytest

from ingest.app import create_app
from ingest.tenants import CreatedTenant
from tests.fixtures.apps import running_app
from tests.fixtures.tenants import make_tenant
from tests.integration.ingest.helpers import brief_body, place_row, upload_rows

CDMX, JALISCO = "Ciudad de México", "Jalisco"
# S-4 has no coordinates and a municipality the gazetteer does not know, so it
# stays without a location.
ROWS = [
    place_row(
        "S-1", municipality="Benito Juárez", state=CDMX, balance=1000, days=30,
        postal_code="03100",
    ),
    place_row(
        "S-2", municipality="Coyoacán", state=CDMX, balance=2000, days=90,
        postal_code="04000",
    ),
    place_row(
        "S-3", municipality="Zapopan", state=JALISCO, balance=3000, days=120,
        postal_code="45000",
    ),
    place_row(
        "S-4", municipality="Rancho Sin Nombre", state=JALISCO, balance=4000,
        days=200, postal_code="44100", lat=None, lon=None,
    ),
    place_row(
        "S-5", municipality="Zapopan", state=JALISCO, balance=5000, days=60,
        postal_code="45010",
    ),
    place_row(
        "S-6", municipality="Guadalajara", state=JALISCO, balance=6000, days=150,
        postal_code="44100",
    ),
    place_row(
        "S-7", municipality="Tlaquepaque", state=JALISCO, balance=700, days=100,
        postal_code="45500",
    ),
]  # fmt: skip
FLAGS = {
    "S-1": {"tags": ["nueva"]},
    "S-2": {"tags": ["vip"]},
    "S-3": {"tags": ["vip", "nueva"]},
    "S-5": {"do_not_visit": {"reason": "dispute", "note": "Reclamo en CONDUSEF"}},
    "S-6": {"do_not_contact": {"reason": "lawyer"}},
}
EXCLUDED_IN_JALISCO = [
    {"flag": "do_not_contact", "reason": "lawyer", "count": 1},
    {"flag": "do_not_visit", "reason": "dispute", "count": 1},
    {"flag": "recalled", "reason": None, "count": 1},
]


@pytest.fixture(scope="module")
async def client():
    async with running_app(create_app()) as client:
        yield client


@pytest.fixture(scope="module")
async def portfolio(client: httpx.AsyncClient) -> CreatedTenant:
    """A tenant with the seven accounts above, tagged, flagged and one recalled."""
    tenant = await make_tenant()
    headers = {"X-API-Key": tenant.api_key.key}
    await upload_rows(client, tenant.api_key.key, ROWS)
    for key, patch in FLAGS.items():
        response = await client.patch(f"/accounts/{key}", headers=headers, json=patch)
        assert response.status_code == 200, response.text
    recalled = await client.post("/accounts/S-7/recall", headers=headers)
    assert recalled.status_code == 200, recalled.text
    return tenant


async def preview(
    client: httpx.AsyncClient, tenant: CreatedTenant, selection: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        "/campaigns/preview", headers={"X-API-Key": tenant.api_key.key}, json=selection
    )
    assert response.status_code == 200, response.text
    return response.json()


class TestPreview:
    @pytest.mark.parametrize(
        ("selection", "matched", "selected", "balance"),
        [
            ({"all_accounts": True}, 7, 4, "10000.00"),
            ({"states": [JALISCO]}, 5, 2, "7000.00"),
            ({"min_days_past_due": 60, "max_days_past_due": 150}, 5, 2, "5000.00"),
            ({"min_balance": "1500", "max_balance": "4500"}, 3, 3, "9000.00"),
            ({"municipalities": ["Zapopan"]}, 2, 1, "3000.00"),
            ({"postal_codes": ["03100", "04000"]}, 2, 2, "3000.00"),
            ({"tags": ["vip"]}, 2, 2, "5000.00"),
            ({"tags": ["vip"], "states": [CDMX]}, 1, 1, "2000.00"),
            ({"account_keys": ["S-1", "S-5"]}, 2, 1, "1000.00"),
        ],
    )
    async def test_filter_counts_and_sums(
        self, client, portfolio, selection, matched, selected, balance
    ) -> None:
        result = await preview(client, portfolio, selection)

        assert result["matched"] == matched
        assert result["selected"] == selected
        assert result["excluded"] == matched - selected
        assert result["balance_total"] == [{"amount": balance, "currency": "MXN"}]

    async def test_unknown_listed_keys_named(self, client, portfolio) -> None:
        result = await preview(
            client, portfolio, {"account_keys": ["s-1", "NOPE-1", "S-5"]}
        )

        assert result["matched"] == 2
        assert result["unknown_count"] == 1
        assert result["unknown_accounts"] == ["NOPE-1"]

    async def test_exclusions_name_flag_and_reason(self, client, portfolio) -> None:
        result = await preview(client, portfolio, {"states": [JALISCO]})

        assert result["exclusions"] == EXCLUDED_IN_JALISCO
        assert result["without_coordinates"] == 1

    async def test_selection_by_account_ids(self, client, portfolio) -> None:
        headers = {"X-API-Key": portfolio.api_key.key}
        ids = [
            (await client.get(f"/accounts/{key}", headers=headers)).json()["account_id"]
            for key in ("S-2", "S-6")
        ]

        result = await preview(client, portfolio, {"account_ids": ids})

        assert result["matched"] == 2
        assert result["selected"] == 1
        assert result["exclusions"] == [
            {"flag": "do_not_contact", "reason": "lawyer", "count": 1}
        ]

    async def test_list_and_filter_rejected(self, client, portfolio) -> None:
        response = await client.post(
            "/campaigns/preview",
            headers={"X-API-Key": portfolio.api_key.key},
            json={"account_keys": ["S-1"], "states": [CDMX]},
        )

        assert response.status_code == 422
        assert "not several" in response.json()["detail"]

    async def test_inverted_range_rejected(self, client, portfolio) -> None:
        response = await client.post(
            "/campaigns/preview",
            headers={"X-API-Key": portfolio.api_key.key},
            json={"min_balance": "500", "max_balance": "100"},
        )

        assert response.status_code == 422
        assert "min_balance 500 is above max_balance 100" in response.json()["detail"]


class TestCampaignSelection:
    async def test_flagged_accounts_left_out(self, client, portfolio) -> None:
        headers = {"X-API-Key": portfolio.api_key.key}

        created = await client.post(
            "/campaigns", headers=headers, json=brief_body(states=[JALISCO])
        )

        assert created.status_code == 201, created.text
        campaign = created.json()
        assert campaign["selected_accounts"] == 2
        stored = await client.get(
            f"/campaigns/{campaign['campaign_id']}/preview", headers=headers
        )
        assert stored.json()["selected"] == 2
        assert stored.json()["balance_total"] == [
            {"amount": "7000.00", "currency": "MXN"}
        ]

    async def test_flag_after_creation_shows_in_preview(self, client) -> None:
        tenant = await make_tenant()
        headers = {"X-API-Key": tenant.api_key.key}
        await upload_rows(client, tenant.api_key.key, ROWS[:2])
        created = await client.post("/campaigns", headers=headers, json=brief_body())
        campaign_id = created.json()["campaign_id"]

        await client.patch(
            "/accounts/S-2",
            headers=headers,
            json={"do_not_visit": {"reason": "vulnerable_person"}},
        )
        stored = await client.get(f"/campaigns/{campaign_id}/preview", headers=headers)
        launched = await client.post(
            f"/campaigns/{campaign_id}/launch", headers=headers
        )

        assert stored.json()["selected"] == 1
        assert stored.json()["exclusions"] == [
            {"flag": "do_not_visit", "reason": "vulnerable_person", "count": 1}
        ]
        assert launched.json()["visit_count"] == 1
        assert launched.json()["excluded"] == [
            {"account_key": "S-2", "reason": "flagged do-not-visit"}
        ]

    async def test_only_flagged_matches_is_422(self, client, portfolio) -> None:
        response = await client.post(
            "/campaigns",
            headers={"X-API-Key": portfolio.api_key.key},
            json=brief_body(account_keys=["S-5", "S-6"]),
        )

        assert response.status_code == 422
        assert response.json()["excluded"] == 2
        assert "flagged or recalled" in response.json()["detail"]

    async def test_cleared_flag_selects_again(self, client) -> None:
        tenant = await make_tenant()
        headers = {"X-API-Key": tenant.api_key.key}
        await upload_rows(client, tenant.api_key.key, ROWS[:1])
        await client.patch(
            "/accounts/S-1", headers=headers, json={"do_not_visit": {"reason": "paid"}}
        )
        flagged = await preview(client, tenant, {"all_accounts": True})

        cleared = await client.patch(
            "/accounts/S-1", headers=headers, json={"do_not_visit": None}
        )

        assert flagged["selected"] == 0
        assert cleared.json()["do_not_visit_reason"] is None
        assert (await preview(client, tenant, {"all_accounts": True}))["selected"] == 1
        assert Decimal(cleared.json()["balance_overdue"]) == Decimal("1000")
