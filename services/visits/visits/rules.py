"""Rules a check-in or a result must pass; each failure names its field.

Failures are collected as problem `errors` entries (location, message,
input), so that one 422 response lists every field to fix.
"""

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from jsonschema import Draft202012Validator, SchemaError
from jsonschema.validators import validator_for

from shared.errors import UnprocessableError
from shared.events.payloads import Money, PersonMet

E164_PATTERN = re.compile(r"^\+[1-9]\d{7,14}$")
MONEY_DECIMAL_PLACES = 2
MAX_ECHOED_CHARS = 200
# jsonschema messages quote the failing instance, which may be large.
MAX_MESSAGE_CHARS = 500

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
) -> list[FieldError]:
    """Check a payment promise against who was met and the known balance.

    The due date is compared with the device's own date at device_time, so
    that a report synced late is judged by the day the promise was made.
    """
    if not person_met.is_contact:
        message = (
            f"a promise needs person_met 'debtor' or 'guarantor', not "
            f"{person_met.value!r}; send promise: null"
        )
        return [field_error("body.promise", message, person_met.value)]
    errors = _check_amount(amount, currency, balance)
    today = device_time.date()
    if due_date < today:
        message = f"due_date {due_date} is in the past (device date {today})"
        errors.append(field_error("body.promise.due_date", message, due_date))
    return errors


def _check_amount(
    amount: Decimal, currency: str, balance: Money | None
) -> list[FieldError]:
    location = "body.promise.amount"
    if amount <= 0:
        return [field_error(location, f"amount {amount} must be above 0", amount)]
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MONEY_DECIMAL_PLACES:
        message = f"amount {amount} has more than {MONEY_DECIMAL_PLACES} decimals"
        return [field_error(location, message, amount)]
    if balance is None:
        return []
    if currency != balance.currency:
        message = f"currency {currency} differs from the balance's {balance.currency}"
        return [field_error("body.promise.currency", message, currency)]
    if amount > balance.amount:
        message = f"amount {amount} is above the overdue balance {balance.amount}"
        return [field_error(location, message, amount)]
    return []


def check_new_phone(new_phone: str | None) -> list[FieldError]:
    if new_phone is None or E164_PATTERN.match(new_phone):
        return []
    message = (
        f"new_phone {new_phone!r} is not an E.164 number; write it as + and "
        "country code and number, 8 to 15 digits, e.g. +525512345678"
    )
    return [field_error("body.new_phone", message, new_phone)]


def check_answers(answers: dict[str, Any], schema: dict[str, Any]) -> list[FieldError]:
    """Validate `answers` against the brief's JSON Schema, one error per failure."""
    validator_class = validator_for(schema, default=Draft202012Validator)
    try:
        validator_class.check_schema(schema)
    except SchemaError as error:
        raise UnprocessableError(
            "the campaign's questions are not a valid JSON Schema "
            f"({error.message}); the tenant must fix the campaign brief"
        ) from error
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    failures = sorted(
        validator.iter_errors(answers), key=lambda e: [str(p) for p in e.path]
    )
    return [
        field_error(
            ".".join(["body.answers", *(str(part) for part in failure.path)]),
            failure.message,
            failure.instance,
        )
        for failure in failures
    ]


def is_verified(
    *,
    distance_m: float,
    accuracy_m: float,
    mock_location: bool,
    geofence_radius_meters: float,
    max_accuracy_meters: float,
) -> bool:
    """Decide whether a check-in proves presence; an unverified one still counts."""
    return (
        distance_m <= geofence_radius_meters
        and accuracy_m <= max_accuracy_meters
        and not mock_location
    )
