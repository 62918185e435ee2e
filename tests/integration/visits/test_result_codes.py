"""Result codes, who may be told about the debt, and contact data in a result."""

import uuid
from typing import Any

import httpx
import pytest

from ingest.tenants import CreatedTenant
from tests.integration.visits.helpers import (
    QUESTIONS,
    Sessionmaker,
    checked_in_visit,
    event_types,
    result_body,
    tenant_headers,
    visit_events,
    visit_row,
)


def tenant_code(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": f"left_card_{uuid.uuid4().hex[:8]}",
        "category": "third_party",
        "label_es": "Se dejó tarjeta",
        "label_en": "Card left",
        "revisit": True,
    }
    body.update(overrides)
    return body


def error_locations(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [error["location"] for error in response.json()["errors"]]


class TestCatalogueApi:
    async def test_lists_categories_and_standard_codes(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        response = await visits.get("/result-codes", headers=tenant_headers(tenant))
        assert response.status_code == 200, response.text
        body = response.json()
        categories = {c["category"]: c for c in body["categories"]}
        assert categories["contact"]["person_met"] == ["debtor", "guarantor"]
        codes = {code["code"]: code for code in body["codes"]}
        assert codes["promise_to_pay"]["label_es"] == "Promesa de pago"
        assert codes["promise_to_pay"]["contact"] is True
        assert codes["vacant"]["category"] == "no_contact"
        assert all(code["standard"] for code in body["codes"])

    async def test_tenant_code_is_private(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        other_tenant: CreatedTenant,
    ) -> None:
        body = tenant_code()
        created = await visits.post(
            "/result-codes", json=body, headers=tenant_headers(tenant)
        )
        assert created.status_code == 201, created.text
        assert created.json()["standard"] is False
        assert created.json()["contact"] is False
        own = await visits.get("/result-codes", headers=tenant_headers(tenant))
        assert body["code"] in {code["code"] for code in own.json()["codes"]}
        other = await visits.get("/result-codes", headers=tenant_headers(other_tenant))
        assert body["code"] not in {code["code"] for code in other.json()["codes"]}

    async def test_duplicate_code_is_a_conflict(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        body = tenant_code()
        headers = tenant_headers(tenant)
        first = await visits.post("/result-codes", json=body, headers=headers)
        assert first.status_code == 201, first.text
        again = await visits.post("/result-codes", json=body, headers=headers)
        assert again.status_code == 409
        assert body["code"] in again.json()["detail"]
        standard = await visits.post(
            "/result-codes", json=tenant_code(code="vacant"), headers=headers
        )
        assert standard.status_code == 409
        assert "standard code" in standard.json()["detail"]

    async def test_bad_fields_are_named(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        headers = tenant_headers(tenant)
        cases = [
            (tenant_code(code="Card Left"), "body.code"),
            (tenant_code(category="neighbour"), "body.category"),
            (tenant_code(label_es=""), "body.label_es"),
        ]
        for body, location in cases:
            response = await visits.post("/result-codes", json=body, headers=headers)
            assert error_locations(response) == [location]
        promise = await visits.post(
            "/result-codes", json=tenant_code(promise=True), headers=headers
        )
        assert promise.status_code == 422
        assert "only a contact code" in promise.text

    async def test_needs_the_tenant_key(self, visits: httpx.AsyncClient) -> None:
        assert (await visits.get("/result-codes")).status_code == 401


class TestResultCode:
    async def test_code_is_stored_and_emitted(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
    ) -> None:
        agent_visit = await checked_in_visit(visits, tenant.tenant_id)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(result_code="payment_plan"),
            headers=agent_visit.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["result_code"] == "payment_plan"
        detail = await visits.get(
            f"/visits/{agent_visit.request.visit_id}", headers=tenant_headers(tenant)
        )
        assert detail.json()["result"]["result_code"] == "payment_plan"
        events = await visit_events(sessionmaker, agent_visit.request.visit_id)
        [completed] = [e for e in events if e.type == "campo.visit.completed"]
        assert completed.data["result_code"] == "payment_plan"

    async def test_code_is_required(self, visits: httpx.AsyncClient) -> None:
        agent_visit = await checked_in_visit(visits)
        body = result_body()
        del body["result_code"]
        response = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        assert error_locations(response) == ["body.result_code"]

    async def test_unknown_code(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(result_code="went_fishing"),
            headers=agent_visit.headers,
        )
        assert error_locations(response) == ["body.result_code"]
        row = await visit_row(sessionmaker, agent_visit.request.visit_id)
        assert row is not None
        assert row.state == "checked_in"

    async def test_nobody_met_needs_a_no_contact_code(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        body = result_body(
            person_met="nobody", promise=None, result_code="refuses_to_pay"
        )
        response = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        assert error_locations(response) == ["body.result_code"]
        body["result_code"] = "vacant"
        body["debtor_lives_there"] = None
        response = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        assert response.status_code == 201, response.text

    async def test_promise_needs_a_promise_code(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(result_code="refuses_to_pay"),
            headers=agent_visit.headers,
        )
        assert error_locations(response) == ["body.promise"]

    async def test_promise_code_needs_the_promise(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(result_code="promise_to_pay", promise=None),
            headers=agent_visit.headers,
        )
        assert error_locations(response) == ["body.promise"]

    async def test_moved_contradicts_debtor_lives_there(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        body = result_body(
            person_met="other_person",
            promise=None,
            result_code="moved",
            debtor_lives_there=True,
        )
        response = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        assert error_locations(response) == ["body.debtor_lives_there"]

    async def test_tenant_code_is_accepted_for_its_tenant_only(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        code = tenant_code()
        created = await visits.post(
            "/result-codes", json=code, headers=tenant_headers(tenant)
        )
        assert created.status_code == 201, created.text
        body = result_body(person_met="other_person", promise=None)
        body["result_code"] = code["code"]
        elsewhere = await checked_in_visit(visits)
        response = await visits.post(
            f"{elsewhere.path}/result", json=body, headers=elsewhere.headers
        )
        assert error_locations(response) == ["body.result_code"]
        own = await checked_in_visit(visits, tenant.tenant_id)
        response = await visits.post(
            f"{own.path}/result", json=body, headers=own.headers
        )
        assert response.status_code == 201, response.text


DEBT_FORM: dict[str, Any] = {
    **QUESTIONS,
    "properties": {
        **QUESTIONS["properties"],
        "offer_accepted": {"type": "boolean", "x-debt": True},
    },
    "required": [],
}

NESTED_DEBT_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "offers": {
            "title": "Offers discussed",
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"accepted": {"type": "boolean", "x-debt": True}},
            },
        }
    },
}
REF_DEBT_FORM: dict[str, Any] = {
    "type": "object",
    "$defs": {"offer": {"type": "boolean", "x-debt": True}},
    "properties": {
        "offer_accepted": {"title": "Offer accepted", "$ref": "#/$defs/offer"}
    },
}


class TestWhoMayBeTold:
    async def test_relative_may_leave_a_message(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits, questions=DEBT_FORM)
        body = result_body(
            person_met="other_person",
            promise=None,
            result_code="message_left",
            answers={"monthly_income": 5000},
        )
        response = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        assert response.status_code == 201, response.text

    async def test_relative_cannot_promise_nor_answer_about_the_debt(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits, questions=DEBT_FORM)
        body = result_body(
            person_met="other_person",
            result_code="message_left",
            answers={"offer_accepted": True},
        )
        response = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        assert error_locations(response) == [
            "body.promise",
            "body.answers.offer_accepted",
        ]
        assert "may be told about the debt" in response.json()["detail"]

    @pytest.mark.parametrize(
        ("questions", "answers"),
        [
            (NESTED_DEBT_FORM, {"offers": [{"accepted": True}]}),
            (REF_DEBT_FORM, {"offer_accepted": True}),
        ],
        ids=["array-items", "ref"],
    )
    async def test_nested_debt_question_refused_to_neighbour(
        self,
        visits: httpx.AsyncClient,
        questions: dict[str, Any],
        answers: dict[str, Any],
    ) -> None:
        agent_visit = await checked_in_visit(visits, questions=questions)
        body = result_body(person_met="other_person", promise=None, answers=answers)
        response = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        assert response.status_code == 422, response.text
        assert error_locations(response) == [f"body.answers.{next(iter(answers))}"]

    async def test_payment_plan_with_a_neighbour_is_refused(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        body = result_body(person_met="other_person", result_code="payment_plan")
        response = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        locations = error_locations(response)
        assert locations == ["body.promise", "body.result_code"]

    async def test_guarantor_may_negotiate(self, visits: httpx.AsyncClient) -> None:
        agent_visit = await checked_in_visit(visits, questions=DEBT_FORM)
        body = result_body(person_met="guarantor", answers={"offer_accepted": True})
        response = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        assert response.status_code == 201, response.text


CONTACT_UPDATE: dict[str, Any] = {
    "phones": [
        {"number": "+525511112222", "owner": "self", "given_by": "relative"},
        {"number": "+525533334444", "kind": "work", "owner": "relative",
         "given_by": "relative", "whatsapp": True},
    ],
    "best_times": [{"days": ["saturday"], "start": "09:00", "end": "13:00"}],
    "new_address": {
        "address": {"street": "Calle Hidalgo", "exterior_number": "45",
                    "municipality": "Zapopan", "postal_code": "45100"},
        "given_by": "relative",
    },
}  # fmt: skip


class TestContactUpdate:
    async def test_stored_and_emitted_without_moving_the_visit(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
    ) -> None:
        agent_visit = await checked_in_visit(visits, tenant.tenant_id)
        body = result_body(
            person_met="other_person",
            promise=None,
            result_code="moved",
            debtor_lives_there=False,
            contact_update=CONTACT_UPDATE,
        )
        response = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        assert response.status_code == 201, response.text
        visit_id = agent_visit.request.visit_id

        detail = await visits.get(f"/visits/{visit_id}", headers=tenant_headers(tenant))
        update = detail.json()["result"]["contact_update"]
        assert [p["number"] for p in update["phones"]] == [
            "+525511112222",
            "+525533334444",
        ]
        assert update["new_address"]["address"]["postal_code"] == "45100"
        # The visit keeps its own address (the agent no longer sees it once
        # the visit is closed, so the row is read).
        row = await visit_row(sessionmaker, visit_id)
        assert row is not None
        assert row.postal_code == "06000"

        events = await visit_events(sessionmaker, visit_id)
        assert "campo.contact_data.updated" in event_types(events)
        [updated] = [e for e in events if e.type == "campo.contact_data.updated"]
        assert updated.data["result_code"] == "moved"
        assert updated.data["update"]["best_times"][0]["days"] == ["saturday"]
        assert updated.data["update"]["new_address"]["given_by"] == "relative"

    async def test_no_event_without_contact_data(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(contact_update={"phones": [], "best_times": []}),
            headers=agent_visit.headers,
        )
        assert response.status_code == 201, response.text
        events = await visit_events(sessionmaker, agent_visit.request.visit_id)
        assert "campo.visit.completed" in event_types(events)
        assert "campo.contact_data.updated" not in event_types(events)

    async def test_bad_contact_data_is_named(self, visits: httpx.AsyncClient) -> None:
        agent_visit = await checked_in_visit(visits)
        update = {
            "phones": [{"number": "5511112222", "given_by": "neighbour"}],
            "best_times": [{"days": ["monday"], "start": "20:00", "end": "08:00"}],
        }
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(contact_update=update),
            headers=agent_visit.headers,
        )
        assert error_locations(response) == [
            "body.contact_update.phones.0.number",
            "body.contact_update.phones.0.given_by",
            "body.contact_update.best_times.0.end",
        ]

    async def test_best_time_with_offset_rejected(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        best = {"days": ["monday"], "start": "09:00-06:00", "end": "10:00"}
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(contact_update={"best_times": [best]}),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422, response.text
        assert error_locations(response) == ["body.contact_update.best_times.0.start"]
        assert "has a UTC offset" in response.json()["detail"]

    async def test_unknown_weekday_is_a_schema_error(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        update = {"best_times": [{"days": ["lunes"], "start": "09:00", "end": "10:00"}]}
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(contact_update=update),
            headers=agent_visit.headers,
        )
        assert error_locations(response) == ["body.contact_update.best_times.0.days.0"]
