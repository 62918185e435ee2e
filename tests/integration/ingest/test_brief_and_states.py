"""The brief's validation and the campaign state machine."""

import asyncio
from typing import Any

import httpx
import pytest

from ingest.app import create_app
from ingest.tenants import CreatedTenant
from shared.events import topics
from tests.fixtures.apps import running_app
from tests.fixtures.events import read_events
from tests.fixtures.portfolios import account_row
from tests.fixtures.tenants import make_tenant
from tests.integration.ingest.helpers import VALID_CLABE, brief_body, upload_rows


@pytest.fixture(scope="module")
async def client():
    async with running_app(create_app()) as client:
        yield client


@pytest.fixture(scope="module")
async def tenant(client: httpx.AsyncClient) -> CreatedTenant:
    tenant = await make_tenant()
    await upload_rows(
        client, tenant.api_key.key, [account_row("B-1"), account_row("B-2")]
    )
    return tenant


def changed(path: str, value: Any) -> dict[str, Any]:
    """Return a valid body with the value at a dotted path replaced."""
    body = brief_body()
    *parents, last = path.split(".")
    node = body
    for name in parents:
        node = node[name]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return body


async def create(
    client: httpx.AsyncClient, tenant: CreatedTenant, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        "/campaigns", headers={"X-API-Key": tenant.api_key.key}, json=body
    )


class TestBriefValidation:
    @pytest.mark.parametrize(
        ("path", "value", "expected"),
        [
            ("objective", {"kind": "other"}, "objective.details is missing"),
            ("objective", {"kind": "collect"}, "objective.kind"),
            ("negotiation", None, "negotiation is missing"),
            (
                "negotiation.installment_counts",
                [0, 3],
                "negotiation.installment_counts has [0]",
            ),
            (
                "negotiation.installment_counts",
                [3, 3],
                "repeats a count",
            ),
            (
                "negotiation.min_down_payment",
                {"amount": "500", "percent_of_balance": "10"},
                "exactly one of amount or percent_of_balance",
            ),
            (
                "negotiation.latest_promise_date",
                "2020-01-01",
                "latest_promise_date 2020-01-01 is in the past",
            ),
            (
                "negotiation.latest_promise_date",
                "9999-12-31",
                "latest_promise_date 9999-12-31 is more than 1825 days ahead",
            ),
            ("deadline", "9999-12-31T18:00:00-06:00", "more than 365 days ahead"),
            ("currency", "XXX", "XXX is not an ISO 4217 currency in use"),
            ("currency", "mxn", "'mxn' is not a currency code"),
            ("creditor", None, "creditor is missing"),
            ("creditor.phone", "33 1234 5678", "creditor.phone '33 1234 5678'"),
            (
                "creditor.payment.clabe",
                VALID_CLABE[:-1] + "2",
                "wrong control digit",
            ),
            ("creditor.payment.clabe", "12345", "a CLABE has 18 digits"),
            (
                "questions",
                {
                    "type": "object",
                    "properties": {"a": {"type": "string", "title": "A"}},
                    "required": ["b"],
                },
                "questions.required names b",
            ),
            (
                "questions",
                {"type": "object", "properties": {"a": {"title": "A"}}},
                "questions.properties.a.type",
            ),
            (
                "questions",
                {
                    "type": "object",
                    "properties": {"a": {"type": "strin", "title": "A"}},
                },
                "not a valid JSON Schema",
            ),
            (
                "questions",
                {
                    "type": "object",
                    "properties": {
                        "a": {"$ref": "https://example.org/form.json", "title": "A"}
                    },
                },
                "external reference",
            ),
            (
                "questions",
                {
                    "type": "object",
                    "required": ["a"],
                    "properties": {"a": {"$ref": "#/properties/a", "title": "A"}},
                },
                "loop of $ref (#/properties/a -> #/properties/a)",
            ),
        ],
    )
    async def test_invalid_brief_names_field(
        self, client, tenant, path, value, expected
    ) -> None:
        response = await create(client, tenant, changed(path, value))

        assert response.status_code == 422
        assert expected in response.text

    async def test_legacy_body_still_accepted(self, client, tenant) -> None:
        body = changed("negotiation", None)
        del body["creditor"]
        body["objective"] = "Confirmar domicilio"
        body["max_discount_pct"] = "10"

        response = await create(client, tenant, body)

        assert response.status_code == 201, response.text
        assert response.json()["objective"] == "Confirmar domicilio"
        assert response.json()["objective_kind"] == "other"
        assert response.json()["max_discount_pct"] == "10"

    async def test_brief_travels_in_request(self, client, tenant) -> None:
        headers = {"X-API-Key": tenant.api_key.key}
        created = await create(client, tenant, brief_body(account_keys=["B-1"]))
        campaign_id = created.json()["campaign_id"]

        await client.post(f"/campaigns/{campaign_id}/launch", headers=headers)
        [request] = await read_events(
            topics.VISIT_REQUESTS,
            count=1,
            where=lambda e: e.data.get("campaign_id") == campaign_id,
        )

        brief = request.data["brief"]
        assert brief["objective_kind"] == "negotiate"
        assert brief["objective"] == "Negociar el saldo vencido"
        assert brief["negotiation"]["installment_counts"] == [3, 6]
        assert brief["negotiation"]["min_down_payment"] == {
            "amount": None,
            "percent_of_balance": "10",
        }
        assert brief["creditor"]["payment"]["clabe"] == VALID_CLABE
        assert brief["creditor"]["agency_name"] == "Cobranza Norte"
        assert request.data["attempt"] == 1


class TestDispatchPolicy:
    @pytest.mark.parametrize(
        ("dispatch", "expected"),
        [
            ({"mode": "auction"}, "dispatch.mode"),
            ({"offer_timeout_seconds": 5}, "dispatch.offer_timeout_seconds"),
            ({"offer_timeout_seconds": 86_401}, "dispatch.offer_timeout_seconds"),
            ({"broadcast_size": 0}, "dispatch.broadcast_size"),
            ({"broadcast_size": 51}, "dispatch.broadcast_size"),
            ({"max_wait_seconds": 29}, "dispatch.max_wait_seconds"),
            ({"max_wait_seconds": 2_592_001}, "dispatch.max_wait_seconds"),
            ({"max_wait_seconds": True}, "dispatch.max_wait_seconds"),
            (
                {"offer_timeout_seconds": 900, "max_wait_seconds": 600},
                "max_wait_seconds 600 is shorter than offer_timeout_seconds 900",
            ),
            (
                {"visiting_hours": {"start": "18:00", "end": "09:00"}},
                "visiting hours start 18:00:00 is not before end 09:00:00",
            ),
            ({"visiting_hours": {"start": "25:00", "end": "26:00"}}, "start"),
            (
                {"visiting_hours": {"start": "09:00:00+05:00", "end": "18:00:00"}},
                "time 09:00:00+05:00 has a UTC offset",
            ),
            (
                {
                    "visiting_hours": {
                        "start": "09:00",
                        "end": "18:00",
                        "allowed_days": ["monday", "monday"],
                    }
                },
                "names a day more than once",
            ),
            (
                {
                    "visiting_hours": {
                        "start": "09:00",
                        "end": "18:00",
                        "allowed_days": [],
                    }
                },
                "dispatch.visiting_hours.allowed_days",
            ),
            (
                {
                    "visiting_hours": {
                        "start": "09:00",
                        "end": "18:00",
                        "allowed_days": ["lunes"],
                    }
                },
                "dispatch.visiting_hours.allowed_days.0",
            ),
            ({"staff_first_seconds": -1}, "dispatch.staff_first_seconds"),
            (
                {"staff_first_seconds": 3600, "max_wait_seconds": 3600},
                "staff_first_seconds 3600 is not shorter than max_wait_seconds",
            ),
            ({"max_travel_minutes": 0}, "dispatch.max_travel_minutes"),
            ({"max_travel_minutes": 1441}, "dispatch.max_travel_minutes"),
            ({"mode": "offer", "timeout": 60}, "timeout"),
            ("offer", "dispatch"),
        ],
    )
    async def test_invalid_dispatch_is_a_problem(
        self, client, tenant, dispatch, expected
    ) -> None:
        body = brief_body()
        body["dispatch"] = dispatch

        response = await create(client, tenant, body)

        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert expected in response.text

    async def test_offer_mode_and_defaults_when_left_out(self, client, tenant) -> None:
        response = await create(client, tenant, brief_body())

        assert response.status_code == 201, response.text
        assert response.json()["dispatch"] == {
            "mode": "offer",
            "offer_timeout_seconds": 600,
            "broadcast_size": 5,
            "max_wait_seconds": 14_400,
            "visiting_hours": None,
            "staff_first_seconds": 0,
            "max_travel_minutes": None,
        }

    async def test_assign_mode_ignores_the_offer_timeout(self, client, tenant) -> None:
        body = brief_body()
        body["dispatch"] = {"mode": "assign", "max_wait_seconds": 60}

        response = await create(client, tenant, body)

        assert response.status_code == 201, response.text
        assert response.json()["dispatch"]["mode"] == "assign"

    async def test_policy_travels_in_request(self, client, tenant) -> None:
        headers = {"X-API-Key": tenant.api_key.key}
        body = brief_body(account_keys=["B-2"])
        body["dispatch"] = {
            "mode": "broadcast",
            "offer_timeout_seconds": 120,
            "broadcast_size": 8,
            "max_wait_seconds": 3600,
            "visiting_hours": {
                "start": "09:00:00",
                "end": "18:30:00",
                "allowed_days": ["monday", "saturday"],
            },
            "staff_first_seconds": 900,
            "max_travel_minutes": 45,
        }
        created = await create(client, tenant, body)
        campaign_id = created.json()["campaign_id"]

        await client.post(f"/campaigns/{campaign_id}/launch", headers=headers)
        [request] = await read_events(
            topics.VISIT_REQUESTS,
            count=1,
            where=lambda e: e.data.get("campaign_id") == campaign_id,
        )

        assert request.data["dispatch"] == body["dispatch"]
        stored = await client.get(f"/campaigns/{campaign_id}", headers=headers)
        assert stored.json()["dispatch"] == body["dispatch"]


class TestStateMachine:
    async def post(
        self, client: httpx.AsyncClient, tenant: CreatedTenant, path: str
    ) -> httpx.Response:
        return await client.post(path, headers={"X-API-Key": tenant.api_key.key})

    async def test_draft_rejects_pause_resume_complete(self, client, tenant) -> None:
        created = await create(client, tenant, brief_body())
        path = f"/campaigns/{created.json()['campaign_id']}"

        for action in ("pause", "resume", "complete"):
            response = await self.post(client, tenant, f"{path}/{action}")
            assert response.status_code == 409, action
            assert response.json()["current_state"] == "draft"
            assert f"can {action}" in response.json()["detail"]

    async def test_cancelled_draft_cannot_launch(self, client, tenant) -> None:
        created = await create(client, tenant, brief_body())
        path = f"/campaigns/{created.json()['campaign_id']}"

        cancelled = await self.post(client, tenant, f"{path}/cancel")
        launched = await self.post(client, tenant, f"{path}/launch")

        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
        assert cancelled.json()["withdrawn_visits"] == 0
        assert launched.status_code == 409
        assert launched.json()["current_state"] == "cancelled"
        assert "only a draft campaign can launch" in launched.json()["detail"]

    async def test_full_lifecycle(self, client, tenant) -> None:
        created = await create(client, tenant, brief_body())
        path = f"/campaigns/{created.json()['campaign_id']}"

        launched = await self.post(client, tenant, f"{path}/launch")
        resumed_early = await self.post(client, tenant, f"{path}/resume")
        paused = await self.post(client, tenant, f"{path}/pause")
        paused_again = await self.post(client, tenant, f"{path}/pause")
        resumed = await self.post(client, tenant, f"{path}/resume")
        completed = await self.post(client, tenant, f"{path}/complete")
        cancelled_late = await self.post(client, tenant, f"{path}/cancel")

        assert launched.json()["visit_count"] == 2
        assert resumed_early.status_code == 409
        assert resumed_early.json()["current_state"] == "launched"
        assert paused.json()["withdrawn_visits"] == 2
        assert paused_again.status_code == 409
        assert paused_again.json()["current_state"] == "paused"
        assert resumed.json()["requested_visits"] == 2
        assert completed.json()["status"] == "completed"
        assert completed.json()["withdrawn_visits"] == 2
        assert cancelled_late.status_code == 409
        assert cancelled_late.json()["current_state"] == "completed"
        stored = await client.get(path, headers={"X-API-Key": tenant.api_key.key})
        assert stored.json()["status"] == "completed"
        assert stored.json()["ended_at"] is not None

    async def test_concurrent_launches_one_wins(self, client, tenant) -> None:
        created = await create(client, tenant, brief_body())
        path = f"/campaigns/{created.json()['campaign_id']}/launch"

        responses = await asyncio.gather(
            *(self.post(client, tenant, path) for _ in range(4))
        )

        codes = sorted(response.status_code for response in responses)
        assert codes == [200, 409, 409, 409]
