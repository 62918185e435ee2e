import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import (
    BaseModel,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

MAX_SELECTED_KEYS = 100_000
MAX_QUESTIONS_BYTES = 32 * 1024
# Keywords the server would evaluate on every agent's submission. Regular
# expressions can backtrack for minutes, and references other than `#/...`
# would make the server fetch a URL of the tenant's choosing.
FORBIDDEN_KEYWORDS = ("pattern", "patternProperties", "$dynamicRef", "$recursiveRef")

AccountKey = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class Selection(BaseModel):
    """The accounts a campaign visits: a list of account keys, or a filter."""

    account_keys: list[AccountKey] | None = Field(
        default=None, max_length=MAX_SELECTED_KEYS, description="Explicit account keys."
    )
    all_accounts: bool = Field(
        default=False, description="Every account of the tenant."
    )
    states: list[str] | None = Field(
        default=None, description="Filter: accounts whose `Estado` is one of these."
    )
    min_days_past_due: int | None = Field(default=None, ge=0, le=36_500)

    @model_validator(mode="after")
    def one_kind_of_selection(self) -> "Selection":
        has_filter = (
            self.all_accounts
            or self.states is not None
            or self.min_days_past_due is not None
        )
        if self.account_keys is not None and has_filter:
            raise ValueError("give either account_keys or filters, not both")
        if self.account_keys is None and not has_filter:
            raise ValueError(
                "the selection is empty: give account_keys, all_accounts=true, "
                "states or min_days_past_due"
            )
        return self


class CampaignCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    objective: str = Field(
        min_length=1, max_length=2000, description="Goal of the visit."
    )
    questions: dict[str, Any] = Field(
        description=(
            "The visit form as a JSON Schema object. Each property needs a `title` "
            "(the label the agent sees); `x-order` lists the properties in the order "
            "they are asked, otherwise the order of `properties` is used."
        ),
        examples=[
            {
                "type": "object",
                "properties": {
                    "works": {"type": "boolean", "title": "¿El titular trabaja?"}
                },
                "required": ["works"],
            }
        ],
    )
    max_discount_pct: Decimal = Field(ge=0, le=100)
    fee_amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    currency: str | None = Field(
        default=None, pattern=r"^[A-Z]{3}$", description="Defaults to the tenant's."
    )
    deadline: datetime
    selection: Selection

    @field_validator("deadline")
    @classmethod
    def deadline_in_future(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError(
                "deadline needs a time zone, e.g. 2026-12-10T18:00:00-06:00"
            )
        if value <= datetime.now(UTC):
            raise ValueError(f"deadline {value.isoformat()} is in the past")
        return value

    @field_validator("questions")
    @classmethod
    def questions_are_a_form(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value)) > MAX_QUESTIONS_BYTES:
            raise ValueError(
                f"questions is larger than {MAX_QUESTIONS_BYTES} bytes; "
                "shorten the form"
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
        properties = value.get("properties")
        if value.get("type") != "object" or not isinstance(properties, dict):
            raise ValueError(
                'questions must be {"type": "object", "properties": {...}}'
            )
        shapeless = [n for n, spec in properties.items() if not isinstance(spec, dict)]
        if shapeless:
            raise ValueError(
                f"questions properties must be objects: {', '.join(shapeless)}"
            )
        untitled = [name for name, spec in properties.items() if not spec.get("title")]
        if untitled:
            raise ValueError(
                f"questions without a title (label): {', '.join(untitled)}"
            )
        order = value.get("x-order")
        if order is not None and (
            not isinstance(order, list)
            or not all(isinstance(name, str) for name in order)
            or sorted(order) != sorted(properties)
        ):
            raise ValueError(
                "x-order must list every property of questions exactly once"
            )
        return value


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


class CampaignOut(BaseModel):
    campaign_id: UUID
    name: str
    status: str
    objective: str
    questions: dict[str, Any]
    max_discount_pct: Decimal
    fee_amount: Decimal
    currency: str
    deadline: datetime
    selected_accounts: int
    created_at: datetime
    launched_at: datetime | None


class ExcludedAccount(BaseModel):
    account_key: str
    reason: str


class LaunchOut(BaseModel):
    campaign_id: UUID
    status: str
    visit_count: int
    excluded: list[ExcludedAccount]
