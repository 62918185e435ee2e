import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.integration.visits.helpers import (
    Sessionmaker,
    agent_headers,
    assigned_visit,
    checked_in_visit,
    event_types,
    result_body,
    visit_events,
    visit_row,
)
from tests.unit.visits.schema_server import schema_server
from visits.models import Promise, VisitResult


async def _count(sessionmaker: Sessionmaker, model: Any, visit_id: uuid.UUID) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(model).where(model.visit_id == visit_id)
        )
    return count or 0


def _error_locations(response: httpx.Response) -> list[str]:
    return [error["location"] for error in response.json()["errors"]]


class TestSubmitResult:
    async def test_result_completes_and_emits_events(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        body = result_body()
        response = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["state"] == "completed"
        assert created["submission_id"] == body["submission_id"]
        assert created["contact"] is True
        assert created["promise"]["amount"] == "1500.00"
        assert created["promise"]["due_date"] == body["promise"]["due_date"]

        row = await visit_row(sessionmaker, agent_visit.request.visit_id)
        assert row is not None
        assert row.state == "completed"
        events = await visit_events(sessionmaker, agent_visit.request.visit_id)
        assert event_types(events) == [
            "campo.visit.assigned",
            "campo.visit.checked_in",
            "campo.visit.completed",
            "campo.promise.made",
        ]
        completed, promised = events[2], events[3]
        assert completed.data["contact"] is True
        assert completed.data["person_met"] == "debtor"
        assert completed.data["submission_id"] == body["submission_id"]
        assert completed.data["promise"]["amount"]["amount"] == "1500.00"
        assert promised.data["promise_id"] == created["promise"]["promise_id"]
        assert promised.data["amount"] == {"amount": "1500.00", "currency": "MXN"}

    async def test_no_contact_result_has_no_promise(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        body = result_body(
            person_met="nobody", promise=None, answers={"reason": "other"}
        )
        response = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        assert response.status_code == 201, response.text
        assert response.json()["contact"] is False
        assert response.json()["promise"] is None
        events = await visit_events(sessionmaker, agent_visit.request.visit_id)
        assert event_types(events)[-1] == "campo.visit.completed"
        assert events[-1].data["contact"] is False
        assert await _count(sessionmaker, Promise, agent_visit.request.visit_id) == 0

    async def test_resubmission_replays_one_result(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        body = result_body()
        first = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        again = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        assert first.status_code == 201, first.text
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
        assert (
            await _count(sessionmaker, VisitResult, agent_visit.request.visit_id) == 1
        )
        assert await _count(sessionmaker, Promise, agent_visit.request.visit_id) == 1
        events = await visit_events(sessionmaker, agent_visit.request.visit_id)
        assert event_types(events).count("campo.visit.completed") == 1
        assert event_types(events).count("campo.promise.made") == 1

    async def test_concurrent_double_submission_one_result(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        body = result_body()
        responses = await asyncio.gather(
            *(
                visits.post(
                    f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
                )
                for _ in range(3)
            )
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200, 200, 201], [r.text for r in responses]
        assert len({response.text for response in responses}) == 1
        assert (
            await _count(sessionmaker, VisitResult, agent_visit.request.visit_id) == 1
        )
        events = await visit_events(sessionmaker, agent_visit.request.visit_id)
        assert event_types(events).count("campo.visit.completed") == 1

    async def test_concurrent_different_submissions_one_wins(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        responses = await asyncio.gather(
            *(
                visits.post(
                    f"{agent_visit.path}/result",
                    json=result_body(),
                    headers=agent_visit.headers,
                )
                for _ in range(2)
            )
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201, 409], [r.text for r in responses]
        loser = next(r for r in responses if r.status_code == 409)
        assert loser.json()["current_state"] == "completed"
        assert (
            await _count(sessionmaker, VisitResult, agent_visit.request.visit_id) == 1
        )

    async def test_new_submission_after_completion_conflicts(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        first = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(),
            headers=agent_visit.headers,
        )
        assert first.status_code == 201, first.text
        second = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(),
            headers=agent_visit.headers,
        )
        assert second.status_code == 409
        assert second.json()["current_state"] == "completed"

    async def test_result_before_check_in_conflicts(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        agent_visit = await assigned_visit(visits)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(),
            headers=agent_visit.headers,
        )
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["current_state"] == "assigned"
        assert "check in" in response.json()["detail"]
        assert (
            await _count(sessionmaker, VisitResult, agent_visit.request.visit_id) == 0
        )

    async def test_other_agents_visit_not_found(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(),
            headers=agent_headers(uuid.uuid4()),
        )
        assert response.status_code == 404

    async def test_submission_id_reused_for_other_visit_conflicts(
        self, visits: httpx.AsyncClient
    ) -> None:
        first = await checked_in_visit(visits)
        second = await checked_in_visit(visits, agent_id=first.agent_id)
        body = result_body()
        response = await visits.post(
            f"{first.path}/result", json=body, headers=first.headers
        )
        assert response.status_code == 201, response.text
        reused = await visits.post(
            f"{second.path}/result", json=body, headers=second.headers
        )
        assert reused.status_code == 409
        assert str(first.request.visit_id) in reused.json()["detail"]

    async def test_other_visit_not_found_before_reuse_check(
        self, visits: httpx.AsyncClient
    ) -> None:
        mine = await checked_in_visit(visits)
        theirs = await checked_in_visit(visits)
        body = result_body()
        response = await visits.post(
            f"{mine.path}/result", json=body, headers=mine.headers
        )
        assert response.status_code == 201, response.text
        reused = await visits.post(
            f"{theirs.path}/result", json=body, headers=mine.headers
        )
        assert reused.status_code == 404


class TestResultValidation:
    async def test_promise_without_contact_rejected(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        body = result_body(person_met="other_person")
        response = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert _error_locations(response) == ["body.promise"]
        assert "person_met" in response.json()["detail"]
        row = await visit_row(sessionmaker, agent_visit.request.visit_id)
        assert row is not None
        assert row.state == "checked_in"

    async def test_promise_above_balance_rejected(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        promise = result_body()["promise"] | {"amount": "5000.01"}
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(promise=promise),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422
        assert _error_locations(response) == ["body.promise.amount"]

    async def test_promise_due_in_past_rejected(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        two_days_ago = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()
        promise = result_body()["promise"] | {"due_date": two_days_ago}
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(promise=promise),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422
        assert _error_locations(response) == ["body.promise.due_date"]

    async def test_invalid_phone_rejected(self, visits: httpx.AsyncClient) -> None:
        agent_visit = await checked_in_visit(visits)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(new_phone="55 1234 5678"),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422
        assert _error_locations(response) == ["body.new_phone"]
        assert "new_phone" in response.json()["detail"]

    async def test_each_invalid_answer_reported(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        answers = {"reason": "bored", "monthly_income": -5}
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(answers=answers),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422
        assert _error_locations(response) == [
            "body.answers.monthly_income",
            "body.answers.reason",
        ]

    async def test_missing_required_answer_rejected(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(answers={}),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422
        assert "'reason' is a required property" in response.json()["detail"]

    async def test_unknown_person_met_rejected(self, visits: httpx.AsyncClient) -> None:
        agent_visit = await checked_in_visit(visits)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(person_met="neighbour"),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422
        assert _error_locations(response) == ["body.person_met"]

    async def test_valid_result_after_rejection_accepted(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        body = result_body(new_phone="12345")
        rejected = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        assert rejected.status_code == 422
        body["new_phone"] = "+525511112222"
        accepted = await visits.post(
            f"{agent_visit.path}/result", json=body, headers=agent_visit.headers
        )
        assert accepted.status_code == 201, accepted.text


def _promise(**overrides: Any) -> dict[str, Any]:
    promise: dict[str, Any] = result_body()["promise"]
    return promise | overrides


async def _assert_still_checked_in(
    sessionmaker: Sessionmaker, visit_id: uuid.UUID
) -> None:
    row = await visit_row(sessionmaker, visit_id)
    assert row is not None
    assert row.state == "checked_in"
    assert await _count(sessionmaker, VisitResult, visit_id) == 0


class TestResultStorableValues:
    @pytest.mark.parametrize(
        ("overrides", "location"),
        [
            ({"submission_id": "r\x001"}, "body.submission_id"),
            ({"notes": "dijo que paga\x00"}, "body.notes"),
            ({"new_phone": "+5255\x0098765432"}, "body.new_phone"),
            ({"answers": {"reason": "other\x00"}}, "body.answers.reason"),
            ({"answers": {"reason": "other", "x\x00": 1}}, "body.answers"),
        ],
    )
    async def test_nul_character_rejected_naming_field(
        self,
        overrides: dict[str, Any],
        location: str,
        visits: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(**overrides),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422, response.text
        assert location in _error_locations(response)
        assert "NUL" in response.json()["detail"]
        await _assert_still_checked_in(sessionmaker, agent_visit.request.visit_id)

    @pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN"])
    async def test_non_finite_answer_rejected(
        self, literal: str, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        body = json.dumps(result_body(answers={"reason": "other"}))
        body = body.replace(
            '"reason": "other"', f'"reason": "other", "monthly_income": {literal}'
        )
        response = await visits.post(
            f"{agent_visit.path}/result",
            content=body,
            headers=agent_visit.headers | {"content-type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert _error_locations(response) == ["body.answers.monthly_income"]
        assert "not a finite number" in response.json()["detail"]
        await _assert_still_checked_in(sessionmaker, agent_visit.request.visit_id)

    async def test_answer_over_length_cap_rejected(
        self, visits: httpx.AsyncClient
    ) -> None:
        questions = {"type": "object", "properties": {"why": {"type": "string"}}}
        agent_visit = await checked_in_visit(visits, questions=questions)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(answers={"why": "a" * 4001}),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422, response.text
        assert _error_locations(response) == ["body.answers.why"]
        assert "at most 4000" in response.json()["detail"]

    @pytest.mark.parametrize("due", ["9999-12-31", "far"])
    async def test_promise_due_too_far_rejected(
        self, due: str, visits: httpx.AsyncClient
    ) -> None:
        if due == "far":
            due = (datetime.now(UTC).date() + timedelta(days=367)).isoformat()
        agent_visit = await checked_in_visit(visits)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(promise=_promise(due_date=due)),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422, response.text
        assert _error_locations(response) == ["body.promise.due_date"]
        assert "more than 365 days" in response.json()["detail"]

    async def test_promise_due_in_a_year_accepted(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        due = (datetime.now(UTC).date() + timedelta(days=365)).isoformat()
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(promise=_promise(due_date=due)),
            headers=agent_visit.headers,
        )
        assert response.status_code == 201, response.text

    @pytest.mark.parametrize(
        "device_time", ["9999-12-31T23:59:59-14:00", "9999-12-31T00:00:00+00:00"]
    )
    async def test_device_time_at_calendar_end_rejected(
        self, device_time: str, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(device_time=device_time),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422, response.text
        assert _error_locations(response) == ["body.device_time"]

    async def test_promise_in_other_currency_rejected(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(promise=_promise(currency="USD")),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422, response.text
        assert _error_locations(response) == ["body.promise.currency"]

    async def test_promise_without_balance_needs_visit_currency(
        self, visits: httpx.AsyncClient
    ) -> None:
        agent_visit = await checked_in_visit(visits, balance=None)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(promise=_promise(currency="USD")),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422, response.text
        assert _error_locations(response) == ["body.promise.currency"]
        assert "MXN" in response.json()["detail"]


class TestUnsafeForms:
    async def test_remote_ref_never_fetched(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        with schema_server() as server:
            url = f"{server.base_url}/schema.json"
            questions = {
                "type": "object",
                "properties": {"x": {"$ref": url, "title": "X"}},
            }
            agent_visit = await checked_in_visit(visits, questions=questions)
            response = await visits.post(
                f"{agent_visit.path}/result",
                json=result_body(
                    person_met="nobody", promise=None, answers={"x": "guess"}
                ),
                headers=agent_visit.headers,
            )
            assert server.requests == 0, server.paths
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        detail = response.json()["detail"]
        assert "external schema" in detail
        assert url in detail
        assert "director must fix" in detail
        assert "SECRET" not in response.text
        assert _error_locations(response) == ["body.answers"]
        await _assert_still_checked_in(sessionmaker, agent_visit.request.visit_id)

    async def test_backtracking_pattern_rejected_at_once(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        questions = {
            "type": "object",
            "properties": {"r": {"type": "string", "title": "R", "pattern": "^(a+)+$"}},
        }
        agent_visit = await checked_in_visit(visits, questions=questions)
        started = time.monotonic()
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(answers={"r": "a" * 22 + "b"}),
            headers=agent_visit.headers,
        )
        assert time.monotonic() - started < 2
        assert response.status_code == 422, response.text
        assert "keyword 'pattern'" in response.json()["detail"]
        await _assert_still_checked_in(sessionmaker, agent_visit.request.visit_id)

    async def test_pattern_properties_rejected(self, visits: httpx.AsyncClient) -> None:
        questions = {"type": "object", "patternProperties": {"^r": {"type": "string"}}}
        agent_visit = await checked_in_visit(visits, questions=questions)
        response = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(answers={"r": "x"}),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422, response.text
        assert "keyword 'patternProperties'" in response.json()["detail"]
