"""Request and response bodies of the reporting API."""

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from reporting.event_names import WEBHOOK_EVENT_TYPES
from shared.schemas import RequestModel

RATE = "Share between 0 and 1; null while its denominator is 0."
ZERO_AMOUNT = Decimal("0.00")


class Percentiles(BaseModel):
    p50: float | None = Field(description="Median in seconds; null with no visits.")
    p90: float | None = Field(description="90th percentile in seconds.")


class CurrencyAmount(BaseModel):
    currency: str
    amount: Decimal


class CampaignFigures(BaseModel):
    """Counts and rates of one campaign, computed from its visits when requested."""

    campaign_id: uuid.UUID
    name: str | None = Field(
        description="Null while the campaign's launch event has not arrived."
    )
    launched_at: datetime | None
    deadline: datetime | None
    accounts: int | None = Field(description="Accounts selected into the campaign.")
    accounts_excluded: int | None = Field(
        description="Selected accounts without a location, so with no visit."
    )
    visits_requested: int = Field(
        description="Visits known to reporting, whichever of their events came first."
    )
    visits_assigned: int
    visits_checked_in: int
    visits_completed: int
    visits_out_of_coverage: int
    visits_expired: int
    visits_cancelled: int = Field(
        description="Withdrawn by the campaign or the account before a check-in."
    )
    visits_final: int = Field(
        description="Completed, rejected, out of coverage, expired or cancelled."
    )
    visits_open: int
    contact_rate: float | None = Field(
        description="Completed visits that met the debtor or a guarantor, over "
        "completed visits. " + RATE
    )
    located_rate: float | None = Field(
        description="Completed visits where the debtor lives at the address, over "
        "completed visits. " + RATE
    )
    promise_rate: float | None = Field(
        description="Completed visits with contact and a payment promise, over "
        "completed visits with contact. " + RATE
    )
    promises: int
    promised_amount: Decimal = Field(
        description="Sum of the promises in `currency`; see promised_by_currency "
        "in the summary for other currencies."
    )
    currency: str
    visited_within_72h_rate: float | None = Field(
        description="Visits with a verified check-in within 72 h of the request, "
        "over visits not out of coverage. " + RATE
    )
    accounts_visited: int = Field(
        default=0, description="Distinct accounts among the campaign's visits."
    )
    visits_visited: int = Field(
        default=0, description="Visits with a verified check-in at the address."
    )
    visits_rejected: int = Field(
        default=0,
        description="Completed visits a director rejected, unless an appeal "
        "overturned it; they do not count in visits_completed.",
    )
    visits_flagged: int = Field(
        default=0, description="Results the fraud score flagged, rejected or not."
    )
    promises_kept: int = Field(default=0, description="Promises paid in full.")
    promises_partly_kept: int = Field(default=0)
    promises_broken: int = Field(default=0)
    kept_amount: Decimal = Field(
        default=ZERO_AMOUNT,
        description="Sum paid against the promises, in `currency`.",
    )
    within_deadline_rate: float | None = Field(
        default=None,
        description="Completed visits filed by the visit's deadline, over "
        "completed visits. " + RATE,
    )


class CampaignSummary(CampaignFigures):
    time_to_assignment_seconds: Percentiles
    time_to_first_visit_seconds: Percentiles = Field(
        description="From the request to the first verified check-in."
    )
    time_to_result_seconds: Percentiles
    promised_by_currency: list[CurrencyAmount]


class CampaignList(BaseModel):
    portfolio_accounts: int = Field(description="Distinct accounts of the tenant.")
    campaigns: list[CampaignFigures]
    limit: int
    offset: int


class WebhookCreate(RequestModel):
    url: str = Field(min_length=1, max_length=2000, examples=["https://example.com/h"])
    event_types: list[str] = Field(min_length=1, examples=[["visit.completed"]])
    description: str | None = Field(default=None, max_length=500)

    @field_validator("url", "description")
    @classmethod
    def check_no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise PydanticCustomError(
                "nul_character",
                "the text contains a NUL character (\\x00), which cannot be "
                "stored. Remove it and send the request again.",
            )
        return value

    @field_validator("event_types")
    @classmethod
    def check_event_types(cls, values: list[str]) -> list[str]:
        for value in values:
            if value not in WEBHOOK_EVENT_TYPES:
                raise ValueError(
                    f"unknown event type {value!r}; allowed: "
                    + ", ".join(WEBHOOK_EVENT_TYPES)
                )
        return list(dict.fromkeys(values))


class Webhook(BaseModel):
    subscription_id: uuid.UUID
    url: str
    event_types: list[str]
    description: str | None
    state: str = Field(description="enabled or disabled.")
    disabled_reason: str | None
    created_at: datetime
    disabled_at: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        default=None,
        description="While set and in the future, deliveries carry a second "
        "signature made with the secret before the last rotation.",
    )
    failing_since: datetime | None = Field(
        default=None,
        description="Time of the first failed attempt since the last delivered one.",
    )


class WebhookCreated(Webhook):
    secret: str = Field(
        description="Signing secret (Standard Webhooks, whsec_ + base64). It is "
        "returned only in this response; store it to verify webhook-signature."
    )


class WebhookList(BaseModel):
    webhooks: list[Webhook]


class WebhookUpdate(RequestModel):
    """Fields to change; omitted ones keep their value."""

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    event_types: list[str] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = Field(
        default=None,
        description="false stops deliveries and cancels pending ones; true resumes "
        "them for new events (use replay for the ones missed meanwhile).",
    )

    @field_validator("url", "description")
    @classmethod
    def check_no_nul(cls, value: str | None) -> str | None:
        return WebhookCreate.check_no_nul(value)

    @field_validator("event_types")
    @classmethod
    def check_event_types(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else WebhookCreate.check_event_types(values)


class WebhookSecret(BaseModel):
    subscription_id: uuid.UUID
    secret: str = Field(
        description="The new signing secret, returned only in this response."
    )
    previous_secret_expires_at: datetime = Field(
        description="Until then deliveries are signed with both secrets."
    )


class WebhookReplay(RequestModel):
    since: datetime = Field(description="Start of the range, inclusive.")
    until: datetime | None = Field(
        default=None, description="End of the range, exclusive; now when omitted."
    )


class RedeliveriesQueued(BaseModel):
    delivery_ids: list[uuid.UUID] = Field(
        description="New deliveries, visible in the delivery log once attempted."
    )
    msg_ids: list[str] = Field(description="Their webhook-id headers, unchanged.")


class DeliveryAttempt(BaseModel):
    delivery_id: uuid.UUID
    msg_id: str = Field(description="Sent as webhook-id; the same on every retry.")
    event_type: str
    delivery_state: str = Field(
        description="pending, delivered, failed or cancelled, for the delivery."
    )
    origin: str = Field(
        default="event", description="event, redelivery or replay: why it was sent."
    )
    attempt_number: int
    status_code: int | None = Field(description="Null when no response arrived.")
    latency_ms: int
    error: str | None
    attempted_at: datetime


class DeliveryAttemptList(BaseModel):
    attempts: list[DeliveryAttempt]
