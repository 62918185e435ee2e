from datetime import time
from typing import Any

import pytest
from pydantic import ValidationError

from shared.events.payloads import (
    Address,
    BestTime,
    ContactUpdate,
    PersonMet,
    Relation,
    ReportedAddress,
    ReportedPhone,
)
from shared.visiting_hours import Weekday
from visits.result_codes import (
    CATEGORY_PEOPLE,
    STANDARD_BY_CODE,
    STANDARD_CODES,
    Category,
)
from visits.result_rules import (
    check_code_fits,
    check_contact_update,
    check_disclosure,
    debt_questions,
)
from visits.rules import FieldError


def code_errors(code_id: str, **overrides: Any) -> list[FieldError]:
    values: dict[str, Any] = {
        "person_met": PersonMet.DEBTOR,
        "has_promise": False,
        "debtor_lives_there": None,
    }
    values.update(overrides)
    return check_code_fits(STANDARD_BY_CODE.get(code_id), code_id=code_id, **values)


def locations(errors: list[FieldError]) -> list[str]:
    return [error["location"] for error in errors]


class TestCatalogue:
    def test_ids_are_unique_snake_case_with_both_labels(self) -> None:
        assert len(STANDARD_BY_CODE) == len(STANDARD_CODES)
        for code in STANDARD_CODES:
            assert code.code.islower()
            assert " " not in code.code
            assert code.label_es
            assert code.label_en

    def test_every_category_has_codes(self) -> None:
        assert {code.category for code in STANDARD_CODES} == set(Category)

    def test_outcomes_a_director_expects(self) -> None:
        expected = {
            "promise_to_pay", "payment_plan", "already_paid", "refuses_to_pay",
            "disputes_debt", "not_home", "moved", "address_not_found", "vacant",
            "deceased", "unsafe_area", "message_left", "business_closed",
            "gated_access", "minor_or_older_adult", "agent_threatened",
            "asks_for_call",
        }  # fmt: skip
        assert expected <= STANDARD_BY_CODE.keys()

    def test_only_contact_codes_record_a_promise(self) -> None:
        promising = {code.code for code in STANDARD_CODES if code.promise}
        assert promising == {"promise_to_pay", "payment_plan"}
        assert all(STANDARD_BY_CODE[code].contact for code in promising)

    def test_stopped_fits_anyone(self) -> None:
        assert CATEGORY_PEOPLE[Category.STOPPED] == frozenset(PersonMet)


class TestCodeFits:
    def test_unknown_code(self) -> None:
        [error] = code_errors("made_up")
        assert error["location"] == "body.result_code"
        assert "GET /result-codes" in error["message"]

    @pytest.mark.parametrize(
        ("code", "person"),
        [
            ("refuses_to_pay", PersonMet.DEBTOR),
            ("refuses_to_pay", PersonMet.GUARANTOR),
            ("message_left", PersonMet.OTHER_PERSON),
            ("not_home", PersonMet.NOBODY),
            ("unsafe_area", PersonMet.NOBODY),
            ("minor_or_older_adult", PersonMet.OTHER_PERSON),
        ],
    )
    def test_code_fits_the_person_met(self, code: str, person: PersonMet) -> None:
        assert code_errors(code, person_met=person) == []

    @pytest.mark.parametrize(
        ("code", "person"),
        [
            ("refuses_to_pay", PersonMet.NOBODY),
            ("refuses_to_pay", PersonMet.OTHER_PERSON),
            ("not_home", PersonMet.DEBTOR),
            ("message_left", PersonMet.NOBODY),
        ],
    )
    def test_code_of_another_category(self, code: str, person: PersonMet) -> None:
        [error] = code_errors(code, person_met=person)
        assert error["location"] == "body.result_code"
        assert f"not {person.value!r}" in error["message"]

    def test_promise_code_needs_the_promise(self) -> None:
        assert code_errors("payment_plan", has_promise=True) == []
        [error] = code_errors("payment_plan", has_promise=False)
        assert error["location"] == "body.promise"

    def test_promise_needs_a_promise_code(self) -> None:
        [error] = code_errors("refuses_to_pay", has_promise=True)
        assert error["location"] == "body.promise"
        assert "promise_to_pay" in error["message"]

    def test_debtor_gone_contradicts_lives_there(self) -> None:
        kwargs = {"person_met": PersonMet.OTHER_PERSON}
        assert code_errors("moved", debtor_lives_there=False, **kwargs) == []
        [error] = code_errors("moved", debtor_lives_there=True, **kwargs)
        assert error["location"] == "body.debtor_lives_there"


QUESTIONS = {
    "type": "object",
    "properties": {
        "offer_accepted": {"type": "boolean", "x-debt": True},
        "best_phone": {"type": "string"},
    },
}


class TestDisclosure:
    def test_contact_may_answer_everything(self) -> None:
        answers = {"offer_accepted": True, "best_phone": "x"}
        for person in (PersonMet.DEBTOR, PersonMet.GUARANTOR):
            assert (
                check_disclosure(
                    person, has_promise=True, answers=answers, questions=QUESTIONS
                )
                == []
            )

    def test_other_person_may_leave_contact_answers(self) -> None:
        errors = check_disclosure(
            PersonMet.OTHER_PERSON,
            has_promise=False,
            answers={"best_phone": "x"},
            questions=QUESTIONS,
        )
        assert errors == []

    def test_other_person_cannot_promise_or_answer_debt_questions(self) -> None:
        errors = check_disclosure(
            PersonMet.OTHER_PERSON,
            has_promise=True,
            answers={"offer_accepted": True},
            questions=QUESTIONS,
        )
        assert locations(errors) == ["body.promise", "body.answers.offer_accepted"]
        assert all("may be told about the debt" in e["message"] for e in errors)

    def test_debt_questions_ignore_unmarked_and_odd_forms(self) -> None:
        assert debt_questions(QUESTIONS) == {"offer_accepted"}
        assert debt_questions({"properties": []}) == set()
        assert debt_questions({}) == set()

    def test_debt_questions_follow_array_items(self) -> None:
        form = {
            "properties": {
                "offers": {
                    "type": "array",
                    "items": {"properties": {"accepted": {"x-debt": True}}},
                },
                "visits": {"type": "array", "items": {"type": "string"}},
            }
        }
        assert debt_questions(form) == {"offers"}

    def test_debt_questions_follow_local_refs(self) -> None:
        form = {
            "$defs": {"offer": {"type": "boolean", "x-debt": True}, "note": {}},
            "properties": {
                "offer_accepted": {"$ref": "#/$defs/offer"},
                "remark": {"$ref": "#/$defs/note"},
                "lost": {"$ref": "#/$defs/missing"},
            },
        }
        assert debt_questions(form) == {"offer_accepted"}

    def test_debt_questions_survive_ref_loops_and_ignore_data(self) -> None:
        form = {
            "$defs": {"node": {"properties": {"next": {"$ref": "#/$defs/node"}}}},
            "properties": {
                "chain": {"$ref": "#/$defs/node"},
                "choice": {"enum": [{"x-debt": True}]},
            },
        }
        assert debt_questions(form) == set()


def phone(number: str = "+525512345678", given_by: Relation = Relation.SELF) -> Any:
    return ReportedPhone(number=number, given_by=given_by)


class TestContactUpdate:
    def test_valid_update_from_the_debtor(self) -> None:
        update = ContactUpdate(
            phones=[phone()],
            best_times=[BestTime(days=[Weekday.SATURDAY], start=time(9), end=time(13))],
            new_address=ReportedAddress(
                address=Address(street="Av. Juárez 10", postal_code="06050"),
                given_by=Relation.SELF,
            ),
        )
        assert check_contact_update(update, PersonMet.DEBTOR) == []

    @pytest.mark.parametrize(
        "number", ["55 1234 5678", "+525512345678\n", "+５２５５１２３４５６７８"]
    )
    def test_phone_not_e164(self, number: str) -> None:
        update = ContactUpdate(phones=[phone(number)])
        [error] = check_contact_update(update, PersonMet.DEBTOR)
        assert error["location"] == "body.contact_update.phones.0.number"

    @pytest.mark.parametrize("postal_code", ["06050", None])
    def test_ascii_postal_code_accepted(self, postal_code: str | None) -> None:
        assert Address(street="Av. Juárez 10", postal_code=postal_code)

    @pytest.mark.parametrize(
        "postal_code", ["06050\n", "\u0660\u0666\u0660\u0665\u0660"]
    )
    def test_postal_code_not_five_ascii_digits(self, postal_code: str) -> None:
        with pytest.raises(ValidationError):
            Address(street="Av. Juárez 10", postal_code=postal_code)

    def test_source_must_be_the_person_met(self) -> None:
        update = ContactUpdate(phones=[phone(given_by=Relation.NEIGHBOUR)])
        assert check_contact_update(update, PersonMet.OTHER_PERSON) == []
        [error] = check_contact_update(update, PersonMet.DEBTOR)
        assert error["location"] == "body.contact_update.phones.0.given_by"
        [error] = check_contact_update(update, PersonMet.NOBODY)
        assert "nobody was met" in error["message"]

    def test_best_time_must_start_first(self) -> None:
        update = ContactUpdate(
            best_times=[BestTime(days=[Weekday.MONDAY], start=time(18), end=time(9))]
        )
        [error] = check_contact_update(update, PersonMet.DEBTOR)
        assert error["location"] == "body.contact_update.best_times.0.end"

    def test_new_address_needs_a_street_or_postal_code(self) -> None:
        update = ContactUpdate(
            new_address=ReportedAddress(
                address=Address(colonia="Centro"), given_by=Relation.SELF
            )
        )
        [error] = check_contact_update(update, PersonMet.DEBTOR)
        assert error["location"] == "body.contact_update.new_address.address"
