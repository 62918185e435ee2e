"""The visit brief a director writes: objective, form, negotiation and creditor."""

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import Field, field_validator, model_validator

from ingest.campaigns.form_refs import ref_loop
from shared.events.payloads import ObjectiveKind
from shared.schemas import RequestModel, free_text, required_text

MAX_QUESTIONS_BYTES = 32 * 1024
# Keywords the server would evaluate on every agent's submission. Regular
# expressions can backtrack for minutes, and references other than `#/...`
# would make the server fetch a URL of the tenant's choosing.
FORBIDDEN_KEYWORDS = ("pattern", "patternProperties", "$dynamicRef", "$recursiveRef")
FIELD_TYPES = ("string", "number", "integer", "boolean", "array")
MAX_INSTALLMENTS = 60
# The furthest a promise date may lie: a 60-month plan takes five years.
MAX_PROMISE_AHEAD = timedelta(days=5 * 365)
E164 = re.compile(r"\+[1-9][0-9]{7,14}")
# The 18th digit of a CLABE is a control digit. Each of the first 17 digits
# is multiplied by the weights 3, 7, 1 in turn, and each product is taken
# mod 10. The control digit is (10 - sum mod 10) mod 10.
CLABE_WEIGHTS = ((3, 7, 1) * 6)[:17]


class Objective(RequestModel):
    kind: ObjectiveKind = Field(description="What the visit is for.")
    details: free_text(2000) | None = Field(
        default=None,
        description="Free text for the agent; required when kind is `other`.",
    )

    @model_validator(mode="after")
    def other_needs_details(self) -> "Objective":
        if self.kind == ObjectiveKind.OTHER and not (self.details or "").strip():
            raise ValueError(
                "objective.details is missing: an objective of kind 'other' needs "
                "a text that tells the agent what to do"
            )
        return self

    def text(self) -> str:
        return (self.details or "").strip() or self.kind.value.replace("_", " ")


class DownPaymentIn(RequestModel):
    amount: Decimal | None = Field(default=None, gt=0, max_digits=14, decimal_places=2)
    percent_of_balance: Decimal | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def exactly_one(self) -> "DownPaymentIn":
        if (self.amount is None) == (self.percent_of_balance is None):
            raise ValueError(
                "negotiation.min_down_payment needs exactly one of amount or "
                "percent_of_balance"
            )
        return self


class NegotiationIn(RequestModel):
    max_discount_pct: Decimal = Field(ge=0, le=100)
    installment_counts: list[int] = Field(default_factory=list, max_length=24)
    min_down_payment: DownPaymentIn | None = None
    latest_promise_date: date | None = None

    @field_validator("installment_counts")
    @classmethod
    def counts_in_range(cls, value: list[int]) -> list[int]:
        wrong = [count for count in value if not 1 <= count <= MAX_INSTALLMENTS]
        if wrong:
            raise ValueError(
                f"negotiation.installment_counts has {wrong}; each count must be "
                f"1 to {MAX_INSTALLMENTS}"
            )
        if len(set(value)) != len(value):
            raise ValueError(
                "negotiation.installment_counts repeats a count; list each once"
            )
        return sorted(value)

    @field_validator("latest_promise_date")
    @classmethod
    def not_past(cls, value: date | None) -> date | None:
        if value is not None and value < date.today():
            raise ValueError(
                f"negotiation.latest_promise_date {value.isoformat()} is in the "
                "past; give today or a later date"
            )
        if value is not None and value > date.today() + MAX_PROMISE_AHEAD:
            raise ValueError(
                f"negotiation.latest_promise_date {value.isoformat()} is more than "
                f"{MAX_PROMISE_AHEAD.days} days ahead; give an earlier date"
            )
        return value


class PaymentReferenceIn(RequestModel):
    bank: required_text(100)
    clabe: str | None = Field(default=None, description="18-digit CLABE account.")
    reference: required_text(100) | None = None

    @field_validator("clabe")
    @classmethod
    def valid_clabe(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.replace(" ", "")
        if not re.fullmatch(r"[0-9]{18}", value):
            raise ValueError(
                f"creditor.payment.clabe {value!r} is invalid: a CLABE has 18 digits"
            )
        if clabe_control_digit(value[:17]) != int(value[17]):
            raise ValueError(
                f"creditor.payment.clabe {value!r} has a wrong control digit; "
                "copy the CLABE again from the bank statement"
            )
        return value

    @model_validator(mode="after")
    def clabe_or_reference(self) -> "PaymentReferenceIn":
        if self.clabe is None and self.reference is None:
            raise ValueError(
                "creditor.payment needs a clabe or a reference so the debtor can pay"
            )
        return self


def clabe_control_digit(first_17: str) -> int:
    total = sum(
        int(digit) * weight % 10
        for digit, weight in zip(first_17, CLABE_WEIGHTS, strict=True)
    )
    return (10 - total % 10) % 10


class CreditorIn(RequestModel):
    creditor_name: required_text(200)
    agency_name: required_text(200) | None = None
    phone: str | None = Field(default=None, description="E.164, e.g. +525512345678.")
    payment: PaymentReferenceIn | None = None

    @field_validator("phone")
    @classmethod
    def e164(cls, value: str | None) -> str | None:
        if value is not None and not E164.fullmatch(value):
            raise ValueError(
                f"creditor.phone {value!r} is invalid; write it in E.164 form, "
                "such as +525512345678"
            )
        return value


def validate_questions(value: dict[str, Any]) -> dict[str, Any]:
    """Check that the visit form is a safe JSON Schema object the app can render."""
    if len(json.dumps(value)) > MAX_QUESTIONS_BYTES:
        raise ValueError(
            f"questions is larger than {MAX_QUESTIONS_BYTES} bytes; shorten the form"
        )

    unsafe = _unsafe_keyword(value)
    if unsafe:
        raise ValueError(
            f"questions may not use {unsafe}; use enum, minLength and maxLength, "
            "and only local references such as #/$defs/name"
        )
    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as error:
        raise ValueError(
            f"questions is not a valid JSON Schema: {error.message}"
        ) from None
    loop = ref_loop(value)
    if loop is not None:
        chain = " -> ".join(f"#{pointer}" for pointer in loop)
        raise ValueError(
            f"questions refers to itself in a loop of $ref ({chain}), so no "
            "answer could ever be checked; point $ref at a definition in $defs "
            "that does not lead back to the question"
        )

    properties = value.get("properties")
    if value.get("type") != "object" or not isinstance(properties, dict):
        raise ValueError('questions must be {"type": "object", "properties": {...}}')
    shapeless = [n for n, spec in properties.items() if not isinstance(spec, dict)]
    if shapeless:
        raise ValueError(
            f"questions properties must be objects: {', '.join(shapeless)}"
        )

    for name, spec in properties.items():
        _check_field(name, spec)
    _check_required(value.get("required"), properties)
    _check_order(value.get("x-order"), properties)
    return value


def _check_field(name: str, spec: dict[str, Any]) -> None:
    if not spec.get("title"):
        raise ValueError(
            f"questions without a title (label): {name}; add a title the agent reads"
        )
    if "$ref" in spec or "enum" in spec or "const" in spec:
        return
    kind = spec.get("type")
    if kind not in FIELD_TYPES:
        raise ValueError(
            f"questions.properties.{name}.type is {kind!r}; use one of "
            f"{', '.join(FIELD_TYPES)}, or list the options in enum"
        )


def _check_required(required: Any, properties: dict[str, Any]) -> None:
    if required is None:
        return
    unknown = [name for name in required if name not in properties]
    if unknown:
        raise ValueError(
            f"questions.required names {', '.join(map(str, unknown))}, which "
            "questions.properties does not define; add them or remove them"
        )


def _check_order(order: Any, properties: dict[str, Any]) -> None:
    if order is not None and (
        not isinstance(order, list)
        or not all(isinstance(name, str) for name in order)
        or sorted(order) != sorted(properties)
    ):
        raise ValueError("x-order must list every property of questions exactly once")


def _unsafe_keyword(node: Any) -> str | None:
    """Name the first keyword in a schema that is unsafe to evaluate, if any."""
    if isinstance(node, list):
        return next((found for item in node if (found := _unsafe_keyword(item))), None)
    if not isinstance(node, dict):
        return None
    for key, child in node.items():
        if key in FORBIDDEN_KEYWORDS:
            return repr(key)
        if key == "$ref" and not (isinstance(child, str) and child.startswith("#")):
            return f"the external reference {str(child)[:100]!r}"
        found = _unsafe_keyword(child)
        if found:
            return found
    return None
