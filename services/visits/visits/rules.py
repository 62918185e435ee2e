"""Rules a check-in or a result must pass; each failure names its field.

Failures are collected as problem `errors` entries (location, message,
input), so that one 422 response lists every field to fix.
"""

import asyncio
import functools
import json
import math
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from jsonschema import Draft202012Validator, SchemaError
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable

from shared.errors import UnprocessableError
from shared.events.payloads import Money, PersonMet

E164_PATTERN = re.compile(r"\+[1-9][0-9]{7,14}")
MONEY_DECIMAL_PLACES = 2
MAX_ECHOED_CHARS = 200
# jsonschema messages quote the failing instance, which may be large.
MAX_MESSAGE_CHARS = 500
DEFAULT_MAX_PROMISE_DAYS = 365
MAX_ANSWER_CHARS = 4000
MAX_ANSWER_DEPTH = 32
MAX_ANSWER_ERRORS = 50
# Forms whose meta-schema check is remembered; a campaign has one form.
CHECKED_FORMS_CACHED = 128

FieldError = dict[str, Any]


def field_error(location: str, message: str, value: Any = None) -> FieldError:
    """Build one problem `errors` entry; only short scalar inputs are echoed."""
    input_value: Any = None
    if isinstance(value, Decimal | date):
        input_value = str(value)
    elif isinstance(value, str):
        input_value = value[:MAX_ECHOED_CHARS]
    elif isinstance(value, int | float | bool):
        input_value = value
    return {
        "location": location,
        "message": message[:MAX_MESSAGE_CHARS],
        "input": input_value,
    }


def raise_if_any(errors: list[FieldError]) -> None:
    """Raise one 422 that lists every failure, with the first in the detail."""
    if not errors:
        return
    first = errors[0]
    detail = f"{first['location']}: {first['message']}"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more in 'errors')"
    raise UnprocessableError(detail, errors=errors)


def check_device_time(
    device_time: datetime,
    *,
    now: datetime,
    clock_skew_seconds: float,
    late_sync_limit_hours: float,
) -> list[FieldError]:
    location = "body.device_time"
    input_value = device_time.isoformat()
    ahead = (device_time - now).total_seconds()
    if ahead > clock_skew_seconds:
        message = (
            f"device_time {input_value} is {ahead:.0f} s ahead of the server clock "
            f"({now.isoformat()}); at most {clock_skew_seconds:g} s is allowed, "
            "so correct the device clock and send again"
        )
        return [field_error(location, message, input_value)]
    if now - device_time > timedelta(hours=late_sync_limit_hours):
        message = (
            f"device_time {input_value} is more than {late_sync_limit_hours:g} h "
            "before the server clock; reports that old are not accepted"
        )
        return [field_error(location, message, input_value)]
    return []


def check_promise(
    *,
    amount: Decimal,
    currency: str,
    due_date: date,
    person_met: PersonMet,
    balance: Money | None,
    device_time: datetime,
    visit_currency: str | None = None,
    max_due_days: int = DEFAULT_MAX_PROMISE_DAYS,
) -> list[FieldError]:
    """Check a payment promise against who was met and the known balance.

    The promise must be in the balance's currency, or in `visit_currency`
    (the campaign's) when the balance is unknown. The due date is compared
    with the device's own date at device_time, so that a report synced late
    is judged by the day the promise was made.
    """
    if not person_met.is_contact:
        message = (
            f"a promise needs person_met 'debtor' or 'guarantor', not "
            f"{person_met.value!r}; send promise: null"
        )
        return [field_error("body.promise", message, person_met.value)]
    expected = balance.currency if balance is not None else visit_currency
    errors = _check_amount(amount, currency, balance, expected)
    today = device_time.date()
    latest = _days_after(today, max_due_days)
    if due_date < today:
        message = f"due_date {due_date} is in the past (device date {today})"
        errors.append(field_error("body.promise.due_date", message, due_date))
    elif due_date > latest:
        message = (
            f"due_date {due_date} is more than {max_due_days} days after the "
            f"device date {today}. Send a date on or before {latest}."
        )
        errors.append(field_error("body.promise.due_date", message, due_date))
    return errors


def _days_after(day: date, days: int) -> date:
    """Return `day` plus `days`, held at the last date the calendar has."""
    if (date.max - day).days < days:
        return date.max
    return day + timedelta(days=days)


def _check_amount(
    amount: Decimal, currency: str, balance: Money | None, expected: str | None
) -> list[FieldError]:
    location = "body.promise.amount"
    if amount <= 0:
        return [field_error(location, f"amount {amount} must be above 0", amount)]
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MONEY_DECIMAL_PLACES:
        message = f"amount {amount} has more than {MONEY_DECIMAL_PLACES} decimals"
        return [field_error(location, message, amount)]
    if expected is not None and currency != expected:
        owner = "the balance's" if balance is not None else "the visit's"
        message = (
            f"currency {currency} differs from {owner} {expected}. "
            f"Send the promise in {expected}."
        )
        return [field_error("body.promise.currency", message, currency)]
    if balance is not None and amount > balance.amount:
        message = f"amount {amount} is above the overdue balance {balance.amount}"
        return [field_error(location, message, amount)]
    return []


def check_new_phone(new_phone: str | None) -> list[FieldError]:
    if new_phone is None or E164_PATTERN.fullmatch(new_phone):
        return []
    message = (
        f"new_phone {new_phone!r} is not an E.164 number; write it as + and "
        "country code and number, 8 to 15 digits, e.g. +525512345678"
    )
    return [field_error("body.new_phone", message, new_phone)]


def check_answer_values(answers: dict[str, Any]) -> list[FieldError]:
    """Check what PostgreSQL and the validator can take, before the form's rules.

    Every text must be free of NUL characters and at most MAX_ANSWER_CHARS
    long, every number finite, and the nesting at most MAX_ANSWER_DEPTH deep.
    The walk is iterative, so deep nesting cannot exhaust the stack.
    """
    errors: list[FieldError] = []
    pending: list[tuple[list[str], Any]] = [([], answers)]
    while pending and len(errors) < MAX_ANSWER_ERRORS:
        path, value = pending.pop()
        location = ".".join(["body.answers", *path])
        if len(path) > MAX_ANSWER_DEPTH:
            message = (
                f"answers are nested more than {MAX_ANSWER_DEPTH} levels deep. "
                "Send flatter answers."
            )
            errors.append(field_error(location, message))
        elif isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    message = (
                        f"the answer name {key!r} contains a NUL character (\\x00), "
                        "which cannot be stored. Remove it and send again."
                    )
                    errors.append(field_error(location, message, key))
                else:
                    pending.append(([*path, key], item))
        elif isinstance(value, list):
            pending.extend(
                ([*path, str(index)], item) for index, item in enumerate(value)
            )
        elif isinstance(value, str):
            errors += _text_answer_errors(location, value)
        elif isinstance(value, float) and not math.isfinite(value):
            message = f"the answer {value} is not a finite number. Send a number."
            errors.append(field_error(location, message, str(value)))
    return sorted(errors, key=lambda error: error["location"])


def _text_answer_errors(location: str, value: str) -> list[FieldError]:
    if "\x00" in value:
        message = (
            "the answer contains a NUL character (\\x00), which cannot be stored. "
            "Remove it and send again."
        )
        return [field_error(location, message, value)]
    if len(value) > MAX_ANSWER_CHARS:
        message = (
            f"the answer is {len(value)} characters long, but at most "
            f"{MAX_ANSWER_CHARS} are accepted. Shorten it."
        )
        return [field_error(location, message, value)]
    return []


def regex_keyword(schema: Any) -> str | None:
    """Return the first regex keyword anywhere in a schema, or None.

    Python's `re` engine backtracks, so a pattern such as ^(a+)+$ takes time
    exponential in the answer's length. Any place counts, even under unknown
    keywords, because a local $ref can point there. A property that happens
    to be named "pattern" has a schema (an object) as its value, not a
    string, so it does not count.
    """
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern" and isinstance(value, str):
                    return key
                if key == "patternProperties" and isinstance(value, dict) and value:
                    if all(isinstance(item, dict | bool) for item in value.values()):
                        return key
                pending.append(value)
    return None


def _raise_no_such_resource(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)


# No retrieval: a $ref that leaves the brief is unresolvable, never fetched.
OFFLINE_REGISTRY: Registry[Any] = Registry(retrieve=_raise_no_such_resource)


def check_answers(answers: dict[str, Any], schema: dict[str, Any]) -> list[FieldError]:
    """Validate `answers` against the brief's JSON Schema, one error per failure.

    Nothing is fetched: a $ref outside the brief makes the brief invalid.
    A brief that cannot be used raises a 422 that names what the campaign must fix.
    """
    keyword = regex_keyword(schema)
    if keyword is not None:
        raise _invalid_form(
            f"the campaign's form uses the JSON Schema keyword {keyword!r}, which "
            "is not accepted because its regular expressions can stall the server. "
            "The campaign's director must remove it from the campaign's questions."
        )
    try:
        failures = _schema_failures(answers, schema)
    except Unresolvable as error:
        raise _unresolvable_form(error) from error
    except RecursionError as error:
        raise _invalid_form(
            "the campaign's form is nested too deeply or refers to itself in an "
            "endless loop of $ref, so the answers cannot be checked. The "
            "campaign's director must fix the campaign's questions."
        ) from error
    return [
        field_error(
            ".".join(["body.answers", *(str(part) for part in failure.path)]),
            failure.message,
            failure.instance,
        )
        for failure in failures
    ]


def _schema_failures(answers: dict[str, Any], schema: dict[str, Any]) -> list[Any]:
    validator_class = _checked_validator_class(json.dumps(schema))
    validator = validator_class(
        schema,
        registry=OFFLINE_REGISTRY,
        format_checker=validator_class.FORMAT_CHECKER,
    )
    return sorted(
        validator.iter_errors(answers), key=lambda e: [str(p) for p in e.path]
    )


@functools.lru_cache(maxsize=CHECKED_FORMS_CACHED)
def _checked_validator_class(schema_text: str) -> Any:
    """Return the validator class of a form, once the form passed its meta-schema.

    Cached by the form's JSON text: every result of a campaign carries the
    same form, and the meta-schema check costs milliseconds of CPU. A form
    that fails is not cached, so it is checked, and refused, every time.
    """
    schema = json.loads(schema_text)
    validator_class = validator_for(schema, default=Draft202012Validator)
    try:
        validator_class.check_schema(schema)
    except SchemaError as error:
        raise _invalid_form(
            "the campaign's questions are not a valid JSON Schema "
            f"({error.message}). The campaign's director must fix the campaign's "
            "questions."
        ) from error
    return validator_class


def _invalid_form(message: str, ref: str | None = None) -> UnprocessableError:
    return UnprocessableError(
        message, errors=[field_error("body.answers", message, ref)]
    )


def _unresolvable_form(error: Unresolvable) -> UnprocessableError:
    # A pointer or anchor missing from the form carries the resource searched,
    # but a rejected retrieval carries only the URI. jsonschema's wrapper
    # forwards attribute reads to referencing's error.
    if getattr(error, "resource", None) is not None:
        anchor = getattr(error, "anchor", None)
        target = f"#{anchor}" if anchor is not None else f"#{error.ref}"
        target = target[:MAX_ECHOED_CHARS]
        message = (
            f"the campaign's form refers to {target!r}, which does not exist in the "
            "form, so the answers cannot be checked. The campaign's director must "
            "fix the campaign's questions."
        )
        return _invalid_form(message, target)
    ref = str(error.ref)[:MAX_ECHOED_CHARS]
    message = (
        f"the campaign's form references an external schema {ref!r}, which is "
        "never fetched, so the answers cannot be checked. The campaign's "
        "director must fix the campaign's questions to use only local $ref "
        "(#/...)."
    )
    return _invalid_form(message, ref)


async def check_answers_in_time(
    answers: dict[str, Any], schema: dict[str, Any], *, timeout_seconds: float
) -> list[FieldError]:
    """Run check_answers off the event loop, giving up after timeout_seconds.

    A thread cannot be stopped, so one that overruns keeps running in the
    background. The checks on the form and on the answers keep that rare.
    NOTE: in CPython 3.11 one `re` match holds the GIL until it ends, so the
    timeout cannot interrupt one. It works because regex keywords are rejected.
    """
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(check_answers, answers, schema), timeout_seconds
        )
    except TimeoutError as error:
        message = (
            f"the answers could not be checked against the campaign's form within "
            f"{timeout_seconds:g} s. Send them again, and if it happens again the "
            "campaign's director must simplify the campaign's questions."
        )
        raise _invalid_form(message) from error


def is_verified(
    *,
    distance_m: float,
    accuracy_m: float,
    mock_location: bool,
    geofence_radius_meters: float,
    max_accuracy_meters: float,
    address_radius_meters: float | None = None,
) -> bool:
    """Decide whether a check-in proves presence; an unverified one still counts.

    A coarse geocode (a postal code's or a town's centre) lies far from the
    real door, so the geofence widens to the geocode's own radius. The fix
    must still be accurate and not mocked.
    """
    fence = max(geofence_radius_meters, address_radius_meters or 0.0)
    return (
        distance_m <= fence and accuracy_m <= max_accuracy_meters and not mock_location
    )
