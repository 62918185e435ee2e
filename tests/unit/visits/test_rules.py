import asyncio
import math
import time
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from shared.errors import UnprocessableError
from shared.events.payloads import Money, PersonMet
from tests.unit.visits.schema_server import schema_server
from visits import rules

NOW = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)
BALANCE = Money(amount=Decimal("5000.00"), currency="MXN")


def promise_errors(**overrides: Any) -> list[rules.FieldError]:
    values: dict[str, Any] = {
        "amount": Decimal("1500"),
        "currency": "MXN",
        "due_date": date(2026, 3, 20),
        "person_met": PersonMet.DEBTOR,
        "balance": BALANCE,
        "device_time": NOW,
    }
    values.update(overrides)
    return rules.check_promise(**values)


def locations(errors: list[rules.FieldError]) -> list[str]:
    return [error["location"] for error in errors]


class TestCheckDeviceTime:
    def check(self, device_time: datetime) -> list[rules.FieldError]:
        return rules.check_device_time(
            device_time, now=NOW, clock_skew_seconds=120, late_sync_limit_hours=72
        )

    def test_current_time_accepted(self) -> None:
        assert self.check(NOW) == []

    def test_skew_within_limit_accepted(self) -> None:
        assert self.check(NOW + timedelta(seconds=120)) == []

    def test_ahead_of_skew_rejected(self) -> None:
        errors = self.check(NOW + timedelta(seconds=121))
        assert locations(errors) == ["body.device_time"]
        assert "ahead of the server clock" in errors[0]["message"]

    def test_late_sync_within_limit_accepted(self) -> None:
        assert self.check(NOW - timedelta(hours=72)) == []

    def test_older_than_late_sync_limit_rejected(self) -> None:
        errors = self.check(NOW - timedelta(hours=72, seconds=1))
        assert locations(errors) == ["body.device_time"]
        assert "72 h" in errors[0]["message"]

    def test_other_offset_compared_as_instant(self) -> None:
        mexico = timezone(timedelta(hours=-6))
        assert self.check(NOW.astimezone(mexico)) == []


class TestCheckPromise:
    def test_valid_promise_accepted(self) -> None:
        assert promise_errors() == []

    def test_guarantor_may_promise(self) -> None:
        assert promise_errors(person_met=PersonMet.GUARANTOR) == []

    @pytest.mark.parametrize("person", [PersonMet.OTHER_PERSON, PersonMet.NOBODY])
    def test_promise_without_contact_rejected(self, person: PersonMet) -> None:
        errors = promise_errors(person_met=person)
        assert locations(errors) == ["body.promise"]
        assert person.value in errors[0]["message"]

    @pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-10")])
    def test_amount_not_positive_rejected(self, amount: Decimal) -> None:
        assert locations(promise_errors(amount=amount)) == ["body.promise.amount"]

    def test_amount_equal_to_balance_accepted(self) -> None:
        assert promise_errors(amount=Decimal("5000")) == []

    def test_amount_above_balance_rejected(self) -> None:
        errors = promise_errors(amount=Decimal("5000.01"))
        assert locations(errors) == ["body.promise.amount"]
        assert "5000.00" in errors[0]["message"]

    def test_unknown_balance_allows_any_positive_amount(self) -> None:
        assert promise_errors(amount=Decimal("99999"), balance=None) == []

    def test_fraction_of_cent_rejected(self) -> None:
        errors = promise_errors(amount=Decimal("10.005"))
        assert locations(errors) == ["body.promise.amount"]

    def test_other_currency_rejected(self) -> None:
        errors = promise_errors(currency="USD")
        assert locations(errors) == ["body.promise.currency"]

    def test_due_today_accepted(self) -> None:
        assert promise_errors(due_date=NOW.date()) == []

    def test_due_date_in_past_rejected(self) -> None:
        errors = promise_errors(due_date=date(2026, 3, 9))
        assert locations(errors) == ["body.promise.due_date"]

    def test_due_date_judged_by_device_local_date(self) -> None:
        # 01:00 UTC on the 11th is still the 10th at UTC-6.
        device_time = datetime(2026, 3, 10, 19, 0, tzinfo=timezone(timedelta(hours=-6)))
        assert promise_errors(due_date=date(2026, 3, 10), device_time=device_time) == []

    def test_due_date_at_limit_accepted(self) -> None:
        due = NOW.date() + timedelta(days=365)
        assert promise_errors(due_date=due) == []

    @pytest.mark.parametrize("due", [date(2027, 3, 11), date(9999, 12, 31)])
    def test_due_date_beyond_limit_rejected(self, due: date) -> None:
        errors = promise_errors(due_date=due)
        assert locations(errors) == ["body.promise.due_date"]
        assert "more than 365 days" in errors[0]["message"]
        assert "2027-03-10" in errors[0]["message"]

    def test_device_date_near_calendar_end_accepted(self) -> None:
        device_time = datetime(9999, 12, 31, 12, 0, tzinfo=UTC)
        assert (
            promise_errors(due_date=date(9999, 12, 31), device_time=device_time) == []
        )

    def test_device_date_near_calendar_end_rejects_past(self) -> None:
        device_time = datetime(9999, 12, 31, 12, 0, tzinfo=UTC)
        errors = promise_errors(due_date=date(9999, 12, 30), device_time=device_time)
        assert locations(errors) == ["body.promise.due_date"]

    def test_due_date_limit_follows_setting(self) -> None:
        due = NOW.date() + timedelta(days=31)
        errors = promise_errors(due_date=due, max_due_days=30)
        assert locations(errors) == ["body.promise.due_date"]

    def test_unknown_balance_needs_visit_currency(self) -> None:
        errors = promise_errors(currency="USD", balance=None, visit_currency="MXN")
        assert locations(errors) == ["body.promise.currency"]
        assert "visit's MXN" in errors[0]["message"]

    def test_unknown_balance_visit_currency_accepted(self) -> None:
        assert promise_errors(balance=None, visit_currency="MXN") == []

    def test_balance_currency_wins_over_visit_currency(self) -> None:
        errors = promise_errors(currency="USD", visit_currency="USD")
        assert locations(errors) == ["body.promise.currency"]

    def test_amount_and_date_errors_both_listed(self) -> None:
        errors = promise_errors(amount=Decimal("0"), due_date=date(2026, 1, 1))
        assert locations(errors) == ["body.promise.amount", "body.promise.due_date"]


class TestCheckNewPhone:
    @pytest.mark.parametrize("phone", [None, "+525512345678", "+14155550123"])
    def test_e164_accepted(self, phone: str | None) -> None:
        assert rules.check_new_phone(phone) == []

    @pytest.mark.parametrize(
        "phone",
        [
            "5512345678",
            "+0512345678",
            "+52 55 1234 5678",
            "+5212",
            "+5255123456789012",
            "+525512345678\n",
            "+\u0665\u0662\u0665\u0665\u0661\u0662\u0663\u0664\u0665\u0666",
            "+５２５５１２３４５６７８",
        ],
    )
    def test_non_e164_rejected(self, phone: str) -> None:
        errors = rules.check_new_phone(phone)
        assert locations(errors) == ["body.new_phone"]


QUESTIONS = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "enum": ["job_loss", "illness", "other"]},
        "income": {"type": "number", "minimum": 0},
    },
    "required": ["reason"],
    "additionalProperties": False,
}


class TestCheckAnswers:
    def test_valid_answers_accepted(self) -> None:
        assert (
            rules.check_answers({"reason": "illness", "income": 100}, QUESTIONS) == []
        )

    def test_each_failing_path_reported(self) -> None:
        errors = rules.check_answers({"reason": "bored", "income": -1}, QUESTIONS)
        assert locations(errors) == ["body.answers.income", "body.answers.reason"]

    def test_missing_required_answer_reported(self) -> None:
        errors = rules.check_answers({}, QUESTIONS)
        assert locations(errors) == ["body.answers"]
        assert "'reason' is a required property" in errors[0]["message"]

    def test_empty_schema_accepts_anything(self) -> None:
        assert rules.check_answers({"free": "text"}, {}) == []

    def test_invalid_schema_rejected(self) -> None:
        with pytest.raises(UnprocessableError, match="not a valid JSON Schema"):
            rules.check_answers({}, {"type": "no-such-type"})

    def test_local_ref_resolved(self) -> None:
        schema = {
            "$defs": {"reason": {"type": "string"}},
            "properties": {"reason": {"$ref": "#/$defs/reason"}},
        }
        assert rules.check_answers({"reason": "illness"}, schema) == []
        errors = rules.check_answers({"reason": 5}, schema)
        assert locations(errors) == ["body.answers.reason"]

    def test_remote_ref_never_fetched(self) -> None:
        with schema_server() as server:
            schema = {
                "type": "object",
                "properties": {"x": {"$ref": f"{server.base_url}/schema.json"}},
            }
            with pytest.raises(UnprocessableError) as raised:
                rules.check_answers({"x": "guess"}, schema)
            assert server.requests == 0, server.paths
        error = raised.value
        assert "external schema" in error.detail
        assert f"{server.base_url}/schema.json" in error.detail
        assert "director must fix" in error.detail
        assert "SECRET" not in error.detail
        assert [e["location"] for e in error.extensions["errors"]] == ["body.answers"]

    def test_ref_relative_to_remote_id_never_fetched(self) -> None:
        with schema_server() as server:
            schema = {
                "$id": f"{server.base_url}/brief.json",
                "properties": {"x": {"$ref": "other.json"}},
            }
            with pytest.raises(UnprocessableError, match="external schema"):
                rules.check_answers({"x": "guess"}, schema)
            assert server.requests == 0, server.paths

    @pytest.mark.parametrize("ref", ["#/$defs/nowhere", "#nowhere"])
    def test_missing_local_ref_rejected(self, ref: str) -> None:
        schema = {"properties": {"x": {"$ref": ref}}}
        with pytest.raises(UnprocessableError) as raised:
            rules.check_answers({"x": 1}, schema)
        assert f"refers to {ref!r}, which does not exist" in raised.value.detail

    def test_ref_loop_rejected(self) -> None:
        with pytest.raises(UnprocessableError, match="endless loop"):
            rules.check_answers({"x": 1}, {"$ref": "#"})

    @pytest.mark.parametrize(
        ("schema", "keyword"),
        [
            (
                {"properties": {"r": {"type": "string", "pattern": "^(a+)+$"}}},
                "pattern",
            ),
            (
                {"patternProperties": {"^(a+)+$": {"type": "string"}}},
                "patternProperties",
            ),
            ({"propertyNames": {"pattern": "^[a-z]+$"}}, "pattern"),
            ({"$defs": {"r": {"pattern": "^a$"}}}, "pattern"),
            # Reachable through a local $ref, so unknown keywords count too.
            ({"x-hidden": {"pattern": "^a$"}}, "pattern"),
        ],
    )
    def test_regex_keyword_rejected(self, schema: dict[str, Any], keyword: str) -> None:
        started = time.monotonic()
        with pytest.raises(UnprocessableError) as raised:
            rules.check_answers({"r": "a" * 28 + "b"}, schema)
        assert time.monotonic() - started < 1
        assert f"keyword {keyword!r}" in raised.value.detail
        assert "director must remove it" in raised.value.detail

    def test_property_named_pattern_allowed(self) -> None:
        schema = {"properties": {"pattern": {"type": "string"}}}
        assert rules.check_answers({"pattern": "stripes"}, schema) == []


class TestCheckAnswerValues:
    def test_plain_answers_accepted(self) -> None:
        answers = {"a": "text", "b": [1, 2.5, None, True], "c": {"d": "e"}}
        assert rules.check_answer_values(answers) == []

    def test_nul_in_answer_rejected(self) -> None:
        errors = rules.check_answer_values({"a": {"b": ["ok", "x\x00y"]}})
        assert locations(errors) == ["body.answers.a.b.1"]
        assert "NUL" in errors[0]["message"]

    def test_nul_in_answer_name_rejected(self) -> None:
        errors = rules.check_answer_values({"ok": 1, "a\x00b": "x"})
        assert locations(errors) == ["body.answers"]
        assert "'a\\x00b'" in errors[0]["message"]

    def test_answer_at_length_cap_accepted(self) -> None:
        text = "a" * rules.MAX_ANSWER_CHARS
        assert rules.check_answer_values({"a": text}) == []

    def test_answer_over_length_cap_rejected(self) -> None:
        errors = rules.check_answer_values({"a": "a" * (rules.MAX_ANSWER_CHARS + 1)})
        assert locations(errors) == ["body.answers.a"]
        assert "4001 characters" in errors[0]["message"]
        assert "at most 4000" in errors[0]["message"]

    @pytest.mark.parametrize("number", [math.inf, -math.inf, math.nan])
    def test_non_finite_number_rejected(self, number: float) -> None:
        errors = rules.check_answer_values({"income": number})
        assert locations(errors) == ["body.answers.income"]
        assert "not a finite number" in errors[0]["message"]

    def test_deep_nesting_rejected(self) -> None:
        answers: dict[str, Any] = {}
        node = answers
        for _ in range(5000):
            node["a"] = {}
            node = node["a"]
        errors = rules.check_answer_values(answers)
        assert len(errors) == 1
        assert "nested more than 32 levels" in errors[0]["message"]


class TestCheckAnswersInTime:
    async def test_valid_answers_checked_off_the_loop(self) -> None:
        errors = await rules.check_answers_in_time(
            {"reason": "illness"}, QUESTIONS, timeout_seconds=2
        )
        assert errors == []

    async def test_slow_check_times_out_without_blocking_loop(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def slow_check(answers: dict[str, Any], schema: dict[str, Any]) -> list[Any]:
            time.sleep(1)
            return []

        monkeypatch.setattr(rules, "check_answers", slow_check)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        started = time.monotonic()
        try:
            with pytest.raises(UnprocessableError) as raised:
                await rules.check_answers_in_time({}, {}, timeout_seconds=0.2)
        finally:
            task.cancel()
        assert time.monotonic() - started < 0.9
        assert ticks >= 5
        assert "could not be checked" in raised.value.detail
        assert "within 0.2 s" in raised.value.detail


class TestIsVerified:
    def verified(self, **overrides: Any) -> bool:
        values: dict[str, Any] = {
            "distance_m": 40.0,
            "accuracy_m": 20.0,
            "mock_location": False,
            "geofence_radius_meters": 150.0,
            "max_accuracy_meters": 100.0,
        }
        values.update(overrides)
        return rules.is_verified(**values)

    def test_near_and_accurate_verified(self) -> None:
        assert self.verified()

    def test_at_geofence_edge_verified(self) -> None:
        assert self.verified(distance_m=150.0, accuracy_m=100.0)

    def test_far_not_verified(self) -> None:
        assert not self.verified(distance_m=150.1)

    def test_inaccurate_fix_not_verified(self) -> None:
        assert not self.verified(accuracy_m=1600.0)

    def test_mock_location_not_verified(self) -> None:
        assert not self.verified(mock_location=True)

    def test_coarse_geocode_widens_the_geofence(self) -> None:
        assert self.verified(distance_m=2_000.0, address_radius_meters=2_500.0)

    def test_far_outside_a_coarse_geocode_not_verified(self) -> None:
        assert not self.verified(distance_m=2_600.0, address_radius_meters=2_500.0)

    def test_coarse_geocode_still_needs_an_accurate_fix(self) -> None:
        assert not self.verified(
            distance_m=2_000.0, accuracy_m=150.0, address_radius_meters=2_500.0
        )

    def test_coarse_geocode_still_refuses_a_mocked_fix(self) -> None:
        assert not self.verified(
            distance_m=2_000.0, mock_location=True, address_radius_meters=2_500.0
        )

    def test_precise_geocode_keeps_the_geofence(self) -> None:
        assert not self.verified(distance_m=151.0, address_radius_meters=30.0)


class TestRaiseIfAny:
    def test_no_errors_passes(self) -> None:
        rules.raise_if_any([])

    def test_errors_raised_as_422(self) -> None:
        errors = [
            rules.field_error("body.new_phone", "bad"),
            rules.field_error("body.answers.q", "bad"),
        ]
        with pytest.raises(UnprocessableError) as raised:
            rules.raise_if_any(errors)
        assert raised.value.detail.startswith("body.new_phone: bad")
        assert "1 more" in raised.value.detail
        assert raised.value.extensions["errors"] == errors


class TestFieldError:
    def test_long_input_truncated(self) -> None:
        error = rules.field_error("body.notes", "too long", "x" * 1000)
        assert error["input"] == "x" * rules.MAX_ECHOED_CHARS

    def test_nested_input_dropped(self) -> None:
        error = rules.field_error("body.answers", "invalid", {"a": [1, 2]})
        assert error["input"] is None

    def test_decimal_input_as_text(self) -> None:
        error = rules.field_error("body.promise.amount", "invalid", Decimal("1.50"))
        assert error["input"] == "1.50"
