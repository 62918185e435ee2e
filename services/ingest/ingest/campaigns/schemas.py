from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    BaseModel,
    Field,
    field_validator,
    model_validator,
)

from ingest.campaigns.brief import (
    CreditorIn,
    NegotiationIn,
    Objective,
    validate_questions,
)
from shared.events.payloads import (
    DispatchMode,
    DispatchPolicy,
    Money,
    ObjectiveKind,
    PersonMet,
    VisitingHours,
)
from shared.schemas import CurrencyCode, RequestModel, required_text

MAX_SELECTED_KEYS = 100_000
MAX_FILTER_VALUES = 1_000

AccountKey = required_text(100)
FilterValue = required_text(200)
FilterValues = Annotated[
    list[FilterValue] | None, Field(default=None, max_length=MAX_FILTER_VALUES)
]


# The furthest deadline a campaign may set.
MAX_DEADLINE_AHEAD = timedelta(days=365)

# Bounds of the dispatch settings. An agent needs some seconds to read an
# offer, and a wait of more than 30 days outlives any useful deadline.
MIN_OFFER_TIMEOUT_SECONDS = 10
MAX_OFFER_TIMEOUT_SECONDS = 24 * 3600
MAX_BROADCAST_SIZE = 50
MIN_WAIT_SECONDS = 30
MAX_WAIT_SECONDS = 30 * 24 * 3600
MAX_TRAVEL_MINUTES = 24 * 60


class Selection(RequestModel):
    """The accounts a campaign visits: a list of account keys or ids, or filters.

    Filters combine with AND; a list filter matches any of its values.
    """

    account_keys: list[AccountKey] | None = Field(
        default=None, max_length=MAX_SELECTED_KEYS, description="Explicit account keys."
    )
    account_ids: list[UUID] | None = Field(
        default=None, max_length=MAX_SELECTED_KEYS, description="Explicit account ids."
    )
    all_accounts: bool = Field(
        default=False, description="Every account of the tenant."
    )
    min_days_past_due: int | None = Field(default=None, ge=0, le=36_500)
    max_days_past_due: int | None = Field(default=None, ge=0, le=36_500)
    min_balance: Decimal | None = Field(default=None, ge=0, max_digits=14)
    max_balance: Decimal | None = Field(default=None, ge=0, max_digits=14)
    states: FilterValues = None
    municipalities: FilterValues = None
    postal_codes: FilterValues = None
    tags: FilterValues = None
    last_visit_outcomes: list[PersonMet] | None = Field(
        default=None, description="Person met at the account's latest visit."
    )
    not_visited_in_days: int | None = Field(
        default=None,
        ge=1,
        le=36_500,
        description="Accounts never visited, or last visited this many days ago.",
    )

    def has_filter(self) -> bool:
        fields = self.model_dump(exclude={"account_keys", "account_ids"})
        return self.all_accounts or any(
            value is not None
            for name, value in fields.items()
            if name != "all_accounts"
        )

    @model_validator(mode="after")
    def one_kind_of_selection(self) -> "Selection":
        lists = [self.account_keys is not None, self.account_ids is not None]
        if sum(lists) + self.has_filter() > 1:
            raise ValueError(
                "give one of account_keys, account_ids or filters, not several"
            )
        if not any(lists) and not self.has_filter():
            raise ValueError(
                "the selection is empty: give account_keys, account_ids, "
                "all_accounts=true or a filter such as states or min_days_past_due"
            )
        for low, high in (
            ("min_days_past_due", "max_days_past_due"),
            ("min_balance", "max_balance"),
        ):
            low_value, high_value = getattr(self, low), getattr(self, high)
            if None not in (low_value, high_value) and low_value > high_value:
                raise ValueError(
                    f"{low} {low_value} is above {high} {high_value}; swap them"
                )
        return self


class DispatchIn(RequestModel):
    """The dispatch mode and timings matching applies to the campaign's visits."""

    mode: DispatchMode = Field(
        default=DispatchMode.OFFER,
        description=(
            "`offer`: one candidate at a time gets an exclusive offer, the next "
            "one on decline or timeout. `broadcast`: the first `broadcast_size` "
            "candidates see the visit and the first to accept takes it. "
            "`assign`: the best candidate gets it with no acceptance step, "
            "meant for the tenant's own staff."
        ),
    )
    offer_timeout_seconds: int = Field(
        default=600,
        ge=MIN_OFFER_TIMEOUT_SECONDS,
        le=MAX_OFFER_TIMEOUT_SECONDS,
        description="Time an agent has to accept an offer before it passes on.",
    )
    broadcast_size: int = Field(
        default=5,
        ge=1,
        le=MAX_BROADCAST_SIZE,
        description="Candidates that see a broadcast at once.",
    )
    max_wait_seconds: int = Field(
        default=4 * 3600,
        ge=MIN_WAIT_SECONDS,
        le=MAX_WAIT_SECONDS,
        description=(
            "A visit that no agent took this long after matching received its "
            "request ends `out_of_coverage`. The campaign's deadline ends the "
            "wait sooner."
        ),
    )
    visiting_hours: VisitingHours | None = Field(
        default=None,
        description=(
            "Local times of day, at the address, between which the campaign's "
            "visits may start. They narrow the legal hours (07:00 to 22:00 in "
            "Mexico, 08:00 to 21:00 in the United States) and never widen them."
        ),
    )
    staff_first_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_WAIT_SECONDS,
        description=(
            "For this long after matching receives a visit, only the tenant's "
            "own agents may take it; then platform agents may too. 0 offers "
            "it to everyone at once."
        ),
    )
    max_travel_minutes: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TRAVEL_MINUTES,
        description=(
            "Longest travel to the address, at the speed of the agent's mode, "
            "for an agent to get the visit. Matching's own limit applies too."
        ),
    )

    @model_validator(mode="after")
    def marketplace_opens_before_the_wait_ends(self) -> "DispatchIn":
        if self.staff_first_seconds and (
            self.staff_first_seconds >= self.max_wait_seconds
        ):
            raise ValueError(
                f"staff_first_seconds {self.staff_first_seconds} is not shorter "
                f"than max_wait_seconds {self.max_wait_seconds}, so the visit "
                "would give up before platform agents could take it; lower "
                "staff_first_seconds or raise max_wait_seconds"
            )
        return self

    @model_validator(mode="after")
    def wait_outlasts_an_offer(self) -> "DispatchIn":
        if (
            self.mode != DispatchMode.ASSIGN
            and self.max_wait_seconds < self.offer_timeout_seconds
        ):
            raise ValueError(
                f"max_wait_seconds {self.max_wait_seconds} is shorter than "
                f"offer_timeout_seconds {self.offer_timeout_seconds}, so a visit "
                "would give up before its first offer runs out; raise "
                "max_wait_seconds or lower offer_timeout_seconds"
            )
        return self

    def policy(self) -> DispatchPolicy:
        return DispatchPolicy.model_validate(self.model_dump())


class CampaignCreate(RequestModel):
    """A draft campaign; `objective` may be plain text, read as kind `other`."""

    name: required_text(200)
    objective: Objective
    questions: dict[str, Any] = Field(
        description=(
            "The visit form as a JSON Schema object. Each property needs a `title` "
            "(the label the agent sees) and a `type` or an `enum` of options; "
            "`required` lists the mandatory ones, and `x-order` lists the "
            "properties in the order they are asked, otherwise the order of "
            "`properties` is used."
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
    negotiation: NegotiationIn | None = Field(
        default=None, description="What the agent may offer; required for negotiate."
    )
    max_discount_pct: Decimal | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Shorthand for negotiation.max_discount_pct.",
    )
    creditor: CreditorIn | None = Field(
        default=None,
        description="The creditor and payment references the agent must show.",
    )
    fee_amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    currency: CurrencyCode | None = Field(
        default=None, description="Defaults to the tenant's."
    )
    deadline: datetime
    selection: Selection
    dispatch: DispatchIn = Field(
        default_factory=DispatchIn,
        description="Dispatch mode and its timings; offer mode when left out.",
    )

    @field_validator("objective", mode="before")
    @classmethod
    def objective_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"kind": ObjectiveKind.OTHER, "details": value}
        return value

    @field_validator("deadline")
    @classmethod
    def deadline_in_future(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError(
                "deadline needs a time zone, e.g. 2026-12-10T18:00:00-06:00"
            )
        now = datetime.now(UTC)
        if value <= now:
            raise ValueError(f"deadline {value.isoformat()} is in the past")
        if value > now + MAX_DEADLINE_AHEAD:
            raise ValueError(
                f"deadline {value.isoformat()} is more than "
                f"{MAX_DEADLINE_AHEAD.days} days ahead; a campaign's visits are "
                "due within days or weeks, so give an earlier deadline"
            )
        return value

    @field_validator("questions")
    @classmethod
    def questions_are_a_form(cls, value: dict[str, Any]) -> dict[str, Any]:
        return validate_questions(value)

    @model_validator(mode="after")
    def one_negotiation(self) -> "CampaignCreate":
        if self.negotiation is None and self.max_discount_pct is None:
            raise ValueError(
                "negotiation is missing: give negotiation.max_discount_pct "
                "(0 when the agent may offer no discount)"
            )
        if (
            self.negotiation is not None
            and self.max_discount_pct is not None
            and self.negotiation.max_discount_pct != self.max_discount_pct
        ):
            raise ValueError(
                "max_discount_pct differs from negotiation.max_discount_pct; "
                "give only negotiation.max_discount_pct"
            )
        if self.objective.kind == ObjectiveKind.NEGOTIATE and self.creditor is None:
            raise ValueError(
                "creditor is missing: a negotiate objective needs the creditor "
                "name and payment references the agent shows the debtor"
            )
        return self

    def policy(self) -> NegotiationIn:
        if self.negotiation is not None:
            return self.negotiation
        assert self.max_discount_pct is not None
        return NegotiationIn(max_discount_pct=self.max_discount_pct)


class CampaignOut(BaseModel):
    campaign_id: UUID
    name: str
    status: str
    objective: str
    objective_kind: ObjectiveKind
    questions: dict[str, Any]
    max_discount_pct: Decimal
    brief: dict[str, Any] | None
    fee_amount: Decimal
    currency: str
    deadline: datetime
    dispatch: DispatchPolicy
    selected_accounts: int
    created_at: datetime
    launched_at: datetime | None
    paused_at: datetime | None
    ended_at: datetime | None


class ExcludedAccount(BaseModel):
    account_key: str
    reason: str


class LaunchOut(BaseModel):
    campaign_id: UUID
    status: str
    visit_count: int
    excluded: list[ExcludedAccount]


class TransitionOut(BaseModel):
    """The campaign's state after a pause, resume, cancel or complete."""

    campaign_id: UUID
    status: str
    withdrawn_visits: int = Field(description="Open visits withdrawn by this change.")
    requested_visits: int = Field(description="New attempts requested on resume.")


class ExclusionCount(BaseModel):
    flag: str = Field(description="recalled, do_not_contact or do_not_visit.")
    reason: str | None = Field(description="The flag's reason, such as dispute.")
    count: int


class PreviewOut(BaseModel):
    matched: int = Field(description="Accounts the selection matches, flagged or not.")
    selected: int = Field(description="Matched accounts a campaign would visit.")
    balance_total: list[Money] = Field(
        description="Sum of the selected accounts' overdue balances, per currency."
    )
    without_coordinates: int = Field(
        description="Selected accounts that launch leaves out for lack of location."
    )
    excluded: int = Field(description="Matched accounts left out by their flags.")
    exclusions: list[ExclusionCount]
    unknown_count: int = Field(
        default=0,
        description="Listed account keys or ids that are not in the portfolio; "
        "creating the campaign rejects them.",
    )
    unknown_accounts: list[str] = Field(
        default_factory=list, description="The first 20 of those keys or ids."
    )
