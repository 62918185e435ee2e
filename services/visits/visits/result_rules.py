"""Rules that tie a result's code to the rest of the result.

Each check returns problem `errors` entries; the caller raises them all
in one 422. Messages name the rule, the values and the fix.
"""

from datetime import time
from typing import Any

from shared.events.payloads import ContactUpdate, PersonMet, Relation
from visits.result_codes import CATEGORY_PEOPLE, ResultCode
from visits.rules import E164_PATTERN, FieldError, field_error

# Only these people may be told about the debt, under Mexican and US rules.
DISCLOSURE_RULE = (
    "only the debtor, a guarantor or a co-obligor may be told about the debt"
)

# A property of the campaign's form marked with this keyword asks about the
# debt (an offer, a reason for not paying), so only a contact may answer it.
DEBT_QUESTION_KEYWORD = "x-debt"


def check_code_fits(
    code: ResultCode | None,
    *,
    code_id: str,
    person_met: PersonMet,
    has_promise: bool,
    debtor_lives_there: bool | None,
) -> list[FieldError]:
    """Check the code exists and agrees with who was met, the promise and the home."""
    if code is None:
        message = (
            f"result_code {code_id!r} is not in the catalogue of standard codes nor "
            "among this tenant's codes; send one of the codes GET /result-codes lists"
        )
        return [field_error("body.result_code", message, code_id)]
    people = CATEGORY_PEOPLE[code.category]
    if person_met not in people:
        allowed = " or ".join(sorted(person.value for person in people))
        message = (
            f"result_code {code.code!r} is a {code.category.value} code, which needs "
            f"person_met {allowed}, not {person_met.value!r}; send a code of the "
            f"category that fits person_met"
        )
        return [field_error("body.result_code", message, code.code)]
    errors = _promise_errors(code, has_promise)
    if code.debtor_gone and debtor_lives_there is True:
        message = (
            f"result_code {code.code!r} says the debtor does not live at the address, "
            "but debtor_lives_there is true; send false or null, or another code"
        )
        errors.append(field_error("body.debtor_lives_there", message, True))
    return errors


def _promise_errors(code: ResultCode, has_promise: bool) -> list[FieldError]:
    if code.promise and not has_promise:
        message = (
            f"result_code {code.code!r} records a payment agreement, so the result "
            "needs its promise (amount, currency, due_date); send it or another code"
        )
        return [field_error("body.promise", message)]
    if has_promise and not code.promise:
        message = (
            f"a promise needs a promise or payment plan result code, not "
            f"{code.code!r}; send result_code 'promise_to_pay' or 'payment_plan', "
            "or promise: null"
        )
        return [field_error("body.promise", message, code.code)]
    return []


def check_disclosure(
    person_met: PersonMet,
    *,
    has_promise: bool,
    answers: dict[str, Any],
    questions: dict[str, Any],
) -> list[FieldError]:
    """Reject a promise or answers about the debt when no contact was met.

    With anyone but the debtor, a guarantor or a co-obligor, the result holds
    only contact data and a message left.
    """
    if person_met.is_contact:
        return []
    errors: list[FieldError] = []
    if has_promise:
        message = (
            f"person_met is {person_met.value!r} and {DISCLOSURE_RULE}, so a result "
            "without contact cannot carry a promise; send promise: null"
        )
        errors.append(field_error("body.promise", message, person_met.value))
    for name in sorted(debt_questions(questions) & answers.keys()):
        message = (
            f"question {name!r} asks about the debt, and {DISCLOSURE_RULE}; with "
            f"person_met {person_met.value!r} leave it unanswered"
        )
        errors.append(field_error(f"body.answers.{name}", message))
    return errors


def debt_questions(questions: dict[str, Any]) -> set[str]:
    """Return the top-level questions of a form that are about the debt.

    A question is about the debt when its schema, or any schema inside it
    (array items, nested properties, a local `$ref`), is marked, so that an
    answer cannot reach a neighbour by nesting the marked part.
    """
    properties = questions.get("properties")
    if not isinstance(properties, dict):
        return set()
    return {
        name for name, schema in properties.items() if _marks_debt(schema, questions)
    }


# Keywords whose values are data, not schemas, so a marker there means nothing.
_DATA_KEYWORDS = frozenset({"const", "default", "enum", "examples"})


def _marks_debt(schema: Any, root: dict[str, Any]) -> bool:
    """Return whether `schema`, or a schema it contains or references, is marked.

    The walk uses a stack, not recursion, so a deeply nested form cannot
    exhaust the interpreter's stack.
    """
    pending = [schema]
    followed: set[str] = set()
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if node.get(DEBT_QUESTION_KEYWORD) is True:
            return True
        ref = node.get("$ref")
        if isinstance(ref, str) and ref not in followed:
            followed.add(ref)
            pending.append(_local_target(root, ref))
        pending.extend(
            value
            for key, value in node.items()
            if key not in _DATA_KEYWORDS and key != "$ref"
        )
    return False


def _local_target(root: dict[str, Any], ref: str) -> Any:
    """Return what a reference such as `#/$defs/offer` points at, or None."""
    if not ref.startswith("#"):
        return None
    node: Any = root
    for part in ref[1:].split("/")[1:]:
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node


def check_contact_update(
    update: ContactUpdate, person_met: PersonMet
) -> list[FieldError]:
    """Check phones are E.164, hours are ordered and each source was really met."""
    errors: list[FieldError] = []
    for index, phone in enumerate(update.phones):
        location = f"body.contact_update.phones.{index}"
        if not E164_PATTERN.fullmatch(phone.number):
            message = (
                f"number {phone.number!r} is not an E.164 number; write + and the "
                "country code and number, 8 to 15 digits, e.g. +525512345678"
            )
            errors.append(field_error(f"{location}.number", message, phone.number))
        errors += _source_errors(phone.given_by, person_met, f"{location}.given_by")
    for index, best in enumerate(update.best_times):
        errors += _best_time_errors(best.start, best.end, index)
    if update.new_address is not None:
        errors += _source_errors(
            update.new_address.given_by,
            person_met,
            "body.contact_update.new_address.given_by",
        )
        if not _has_place(update.new_address.address.model_dump()):
            message = (
                "new_address has neither a street nor a postal code, so nobody could "
                "find it; send at least one of them"
            )
            errors.append(
                field_error("body.contact_update.new_address.address", message)
            )
    return errors


def _has_place(address: dict[str, Any]) -> bool:
    return bool(address.get("street") or address.get("postal_code"))


# Relations that may have given the data, by the person the agent met.
_SOURCES: dict[PersonMet, frozenset[Relation]] = {
    PersonMet.DEBTOR: frozenset({Relation.SELF}),
    PersonMet.GUARANTOR: frozenset({Relation.GUARANTOR, Relation.CO_OBLIGOR}),
    PersonMet.OTHER_PERSON: frozenset(Relation)
    - {Relation.SELF, Relation.GUARANTOR, Relation.CO_OBLIGOR},
    PersonMet.NOBODY: frozenset(),
}


def _source_errors(
    given_by: Relation, person_met: PersonMet, location: str
) -> list[FieldError]:
    allowed = _SOURCES[person_met]
    if given_by in allowed:
        return []
    if not allowed:
        fix = "nobody was met, so send no contact data heard at the door"
    else:
        fix = "send given_by " + " or ".join(sorted(r.value for r in allowed))
    message = (
        f"given_by {given_by.value!r} does not fit person_met "
        f"{person_met.value!r}; {fix}"
    )
    return [field_error(location, message, given_by.value)]


def _best_time_errors(start: time, end: time, index: int) -> list[FieldError]:
    if start < end:
        return []
    message = (
        f"best time starts at {start} and ends at {end}; the start must come first "
        "on the same day"
    )
    return [
        field_error(f"body.contact_update.best_times.{index}.end", message, str(end))
    ]
