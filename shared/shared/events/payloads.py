"""Event payloads: the `data` of each CloudEvent, one model per event type.

These models are the single source of the event contract; the AsyncAPI
document for integrators is generated from them.
"""

from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from shared.events import topics
from shared.permissions import ALL_SCOPES, stored_scopes
from shared.visiting_hours import Weekday


class Payload(BaseModel):
    """Base of every event payload.

    `event_type` is the CloudEvents `type`, `topic` the stream it goes to, and
    `aggregate_id` the Kafka key, so that one aggregate's events stay ordered.
    """

    # An invalid event's error is logged and dead-lettered: without its
    # input, it cannot carry the debtor's name, phone or address along.
    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

    event_type: ClassVar[str]
    topic: ClassVar[str]

    tenant_id: UUID

    def aggregate_id(self) -> str:
        raise NotImplementedError


class GeoPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: Decimal
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class Address(BaseModel):
    model_config = ConfigDict(frozen=True)

    street: str | None = None
    exterior_number: str | None = None
    interior_number: str | None = None
    colonia: str | None = None
    municipality: str | None = None
    state: str | None = None
    postal_code: str | None = Field(default=None, pattern=r"^[0-9]{5}$")
    cross_streets: str | None = Field(
        default=None, description="The streets between which the address lies."
    )
    address_references: str | None = Field(
        default=None, description="Landmarks and directions to find the door."
    )


class LocationPrecision(StrEnum):
    """The closeness of an account's coordinates to its door, finest first."""

    ROOFTOP = "rooftop"
    VISIT = "visit"
    """A verified check-in at the door; as close as the fix's accuracy."""
    STREET = "street"
    POSTAL_CODE = "postal_code"
    LOCALITY = "locality"
    STATE = "state"


class LocationSource(StrEnum):
    """The origin of an account's coordinates."""

    FILE = "file"
    GAZETTEER = "gazetteer"
    NOMINATIM = "nominatim"
    CACHE = "cache"
    VISIT = "visit"


class PersonMet(StrEnum):
    """The person the agent met at the door; debtor and guarantor count as contact."""

    DEBTOR = "debtor"
    GUARANTOR = "guarantor"
    OTHER_PERSON = "other_person"
    NOBODY = "nobody"

    @property
    def is_contact(self) -> bool:
        return self in (PersonMet.DEBTOR, PersonMet.GUARANTOR)


# --- tenants.v1 -------------------------------------------------------------


class TenantCreated(Payload):
    event_type = "campo.tenant.created"
    topic = topics.TENANTS

    name: str
    country: str = "MX"
    currency: str = "MXN"
    created_at: datetime

    def aggregate_id(self) -> str:
        return str(self.tenant_id)


class ApiKeyCreated(Payload):
    """A new integrator key; only its SHA-256 digest travels, never the key."""

    event_type = "campo.api_key.created"
    topic = topics.TENANTS

    key_id: UUID
    prefix: str
    key_hash: str
    created_at: datetime
    name: str | None = None
    # Keys made before scopes existed could do everything, and still can.
    scopes: list[str] = Field(default_factory=lambda: stored_scopes(ALL_SCOPES))

    def aggregate_id(self) -> str:
        return str(self.tenant_id)


# Platform events (signing keys) have no tenant; they carry this one, so that
# the outbox and the topic treat them like any other event.
PLATFORM_TENANT_ID = UUID(int=0)


class SigningKeyPublished(Payload):
    """The public half of a new key that signs people's access tokens."""

    event_type = "campo.signing_key.published"
    topic = topics.TENANTS

    kid: str
    public_jwk: dict[str, str]
    created_at: datetime

    def aggregate_id(self) -> str:
        return "signing-keys"


class SigningKeyRetired(Payload):
    """A signing key that stops verifying tokens at `retired_at`."""

    event_type = "campo.signing_key.retired"
    topic = topics.TENANTS

    kid: str
    retired_at: datetime

    def aggregate_id(self) -> str:
        return "signing-keys"


class PersonalDataRead(Payload):
    """A caller read debtors' personal data: who, what, when and through what.

    `actor` is `key:<key id>`, `user:<user id>` or `agent:<agent id>`;
    `resource_ids` names the accounts, visits or uploads read (at most 500).
    """

    event_type = "campo.personal_data.read"
    topic = topics.AUDIT

    audit_id: UUID
    actor: str = Field(max_length=100)
    service: str = Field(max_length=20)
    resource: str = Field(max_length=40)
    resource_ids: list[str] = Field(max_length=500)
    visit_id: UUID | None = None
    campaign_id: UUID | None = None
    read_at: datetime

    def aggregate_id(self) -> str:
        return str(self.tenant_id)


class OperatorCommandRun(Payload):
    """A platform operator ran a `campo-admin` command, which bypasses row-level
    security: who, which command, and the ids it touched.

    `tenant_id` is the tenant the command touched, or PLATFORM_TENANT_ID for
    commands on agents, signing keys or the schema, shown to no tenant.
    """

    event_type = "campo.operator.command_run"
    topic = topics.AUDIT

    audit_id: UUID
    operator: str = Field(max_length=80)
    command: str = Field(max_length=32)
    target_ids: list[str] = Field(max_length=500)
    run_at: datetime

    def aggregate_id(self) -> str:
        return str(self.tenant_id)


class ApiKeyRevoked(Payload):
    """A key revoked by the tenant or the operator; every service stops accepting it."""

    event_type = "campo.api_key.revoked"
    topic = topics.TENANTS

    key_id: UUID
    revoked_at: datetime

    def aggregate_id(self) -> str:
        return str(self.tenant_id)


# --- accounts.v1 ------------------------------------------------------------


class AccountUpserted(Payload):
    event_type = "campo.account.upserted"
    topic = topics.ACCOUNTS

    account_id: UUID
    account_key: str
    credit_number: str | None = None
    upload_id: UUID | None = None
    debtor_name: str
    balance_overdue: Money | None = None
    days_past_due: int | None = None
    address: Address
    phone: str | None = None
    location: GeoPoint | None = None
    location_precision: LocationPrecision | None = Field(
        default=None, description="Absent when the account could not be placed."
    )
    location_source: LocationSource | None = None
    time_zone: str | None = Field(
        default=None,
        description="IANA time zone of the address, e.g. America/Tijuana.",
    )
    created: bool = Field(description="True for a new account, false for an update.")

    def aggregate_id(self) -> str:
        return str(self.account_id)


# --- campaigns.v1 -----------------------------------------------------------


class CampaignLaunched(Payload):
    event_type = "campo.campaign.launched"
    topic = topics.CAMPAIGNS

    campaign_id: UUID
    name: str
    account_count: int
    visit_count: int
    excluded_count: int = Field(
        description="Selected accounts left out: no location, or flagged since."
    )
    deadline: datetime
    launched_at: datetime

    def aggregate_id(self) -> str:
        return str(self.campaign_id)


# --- visit-requests.v1 ------------------------------------------------------


class ObjectiveKind(StrEnum):
    """The purpose of a visit; with `other` the objective text alone explains it."""

    LOCATE = "locate"
    NEGOTIATE = "negotiate"
    UPDATE_DATA = "update_data"
    VERIFY_ADDRESS = "verify_address"
    OTHER = "other"


class DownPayment(BaseModel):
    """The smallest down payment the agent may accept: an amount or a percent."""

    model_config = ConfigDict(frozen=True)

    amount: Money | None = None
    percent_of_balance: Decimal | None = Field(default=None, gt=0, le=100)


class NegotiationPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_discount_pct: Decimal = Field(ge=0, le=100)
    installment_counts: list[int] = Field(
        default_factory=list,
        description="Numbers of installments the agent may offer; empty for none.",
    )
    min_down_payment: DownPayment | None = None
    latest_promise_date: date | None = Field(
        default=None, description="Last due date the agent may accept in a promise."
    )


class PaymentReference(BaseModel):
    """Payment details of the creditor's own account, which the debtor pays."""

    model_config = ConfigDict(frozen=True)

    bank: str
    clabe: str | None = Field(default=None, pattern=r"^[0-9]{18}$")
    reference: str | None = None


class CreditorIdentification(BaseModel):
    """The creditor the agent collects for, shown to the debtor at the door."""

    model_config = ConfigDict(frozen=True)

    creditor_name: str
    agency_name: str | None = None
    phone: str | None = None
    payment: PaymentReference | None = None


class Brief(BaseModel):
    """The visit brief; fields after `max_discount_pct` are optional for old events."""

    model_config = ConfigDict(frozen=True)

    objective: str
    questions: dict[str, Any] = Field(description="JSON Schema of the visit form.")
    max_discount_pct: Decimal = Field(ge=0, le=100)
    objective_kind: ObjectiveKind = ObjectiveKind.OTHER
    negotiation: NegotiationPolicy | None = None
    creditor: CreditorIdentification | None = None


class DispatchMode(StrEnum):
    """The way matching finds the agent of a visit.

    `offer` gives one candidate at a time an exclusive offer, `broadcast`
    offers the visit to several candidates and the first to accept takes
    it, and `assign` gives it to the best candidate with no acceptance step.
    """

    OFFER = "offer"
    BROADCAST = "broadcast"
    ASSIGN = "assign"


def _without_offset(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError(
            f"time {value.isoformat()} has a UTC offset, but hours are local to "
            f"the address; send {value.replace(tzinfo=None).isoformat()} "
            "in the address's own time"
        )
    return value


LocalTime = Annotated[time, AfterValidator(_without_offset)]
"""A time of day at the address. An offset is rejected: local comparisons drop it."""


class VisitingHours(BaseModel):
    """Local times of day between which a campaign's visits may start: [start, end).

    Matching applies them inside the legal hours of the address, so they can
    only narrow those hours.
    """

    model_config = ConfigDict(frozen=True)

    start: LocalTime
    end: LocalTime
    allowed_days: list[Weekday] | None = Field(
        default=None,
        min_length=1,
        description=(
            "Days of the week, in the address's time zone, on which visits may "
            "start; None allows every day."
        ),
    )

    @model_validator(mode="after")
    def starts_before_it_ends(self) -> "VisitingHours":
        if not self.start < self.end:
            raise ValueError(
                f"visiting hours start {self.start} is not before end {self.end}; "
                "the window must start and end on the same day"
            )
        return self

    @field_validator("allowed_days")
    @classmethod
    def days_once_each(cls, days: list[Weekday] | None) -> list[Weekday] | None:
        if days is not None and len(set(days)) != len(days):
            raise ValueError(
                f"allowed_days {[day.value for day in days]} names a day more "
                "than once; list each day once"
            )
        return days


class DispatchPolicy(BaseModel):
    """A campaign's dispatch settings, sent with each of its visit requests."""

    model_config = ConfigDict(frozen=True)

    mode: DispatchMode = DispatchMode.OFFER
    offer_timeout_seconds: int = Field(
        default=600,
        ge=1,
        description="Time an agent has to accept an offer before it expires.",
    )
    broadcast_size: int = Field(
        default=5, ge=1, description="Candidates that see a broadcast at once."
    )
    max_wait_seconds: int = Field(
        default=4 * 3600,
        ge=1,
        description=(
            "Time from matching's receipt of the request after which a visit "
            "no agent took ends out_of_coverage; the deadline ends it sooner."
        ),
    )
    visiting_hours: VisitingHours | None = Field(
        default=None,
        description="The campaign's own visiting hours, None for the legal ones.",
    )
    staff_first_seconds: int = Field(
        default=0,
        ge=0,
        description=(
            "Time from matching's receipt of the request during which only the "
            "tenant's own agents may take the visit; 0 offers it to everyone "
            "at once."
        ),
    )
    max_travel_minutes: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Longest travel to the visit for an agent to be a candidate; None "
            "for matching's own limit, which also caps this one."
        ),
    )


class VisitRequested(Payload):
    """A campaign's request for one visit to one account; ingest mints the visit id."""

    event_type = "campo.visit.requested"
    topic = topics.VISIT_REQUESTS

    visit_id: UUID
    campaign_id: UUID
    account_id: UUID
    account_key: str
    attempt: int = 1
    requested_at: datetime
    deadline: datetime
    fee: Money
    location: GeoPoint
    address: Address
    debtor_name: str
    phone: str | None = None
    balance_overdue: Money | None = None
    days_past_due: int | None = None
    brief: Brief
    dispatch: DispatchPolicy | None = Field(
        default=None,
        description=(
            "Absent in requests from before dispatch modes existed, which "
            "matching assigns with no acceptance step and no wait limit."
        ),
    )
    time_zone: str | None = Field(
        default=None,
        max_length=64,
        description=(
            "IANA time zone of the address, which sets its legal visiting "
            "hours. Absent in older requests and for addresses geocoding "
            "could not place; matching then allows only hours legal in every "
            "time zone of Mexico."
        ),
    )
    location_precision: LocationPrecision | None = Field(
        default=None,
        description=(
            "How close `location` is to the door; absent in older requests. "
            "Visits widens its geofence for a coarse one."
        ),
    )
    location_accuracy_m: float | None = Field(
        default=None,
        ge=0,
        description="The fix's accuracy when the precision is `visit`.",
    )

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class WithdrawalReason(StrEnum):
    CAMPAIGN_PAUSED = "campaign_paused"
    CAMPAIGN_CANCELLED = "campaign_cancelled"
    CAMPAIGN_COMPLETED = "campaign_completed"
    ACCOUNT_RECALLED = "account_recalled"
    DO_NOT_CONTACT = "do_not_contact"
    DO_NOT_VISIT = "do_not_visit"


class VisitWithdrawn(Payload):
    """The campaign no longer wants a visit that may not have happened yet.

    Matching releases the visit's offers and assignment; visits cancels it
    unless the agent has already checked in, in which case nothing changes.
    """

    event_type = "campo.visit.withdrawn"
    topic = topics.VISIT_REQUESTS

    visit_id: UUID
    campaign_id: UUID
    account_id: UUID
    reason: WithdrawalReason
    withdrawn_at: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


# --- assignments.v1 ---------------------------------------------------------


class AssignmentCreated(Payload):
    event_type = "campo.assignment.created"
    topic = topics.ASSIGNMENTS

    assignment_id: UUID
    offer_id: UUID
    visit_id: UUID
    agent_id: UUID
    assigned_at: datetime
    distance_m: float

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class ReleaseReason(StrEnum):
    """Reason an assignment ended before its visit was made.

    The first five are the agent's own, given when handing a visit back. The
    rest are decided by matching or by the tenant.
    """

    CANNOT_REACH = "cannot_reach"
    UNSAFE = "unsafe"
    SCHEDULE_CONFLICT = "schedule_conflict"
    PERSONAL = "personal"
    OTHER = "other"
    NO_CHECK_IN = "no_check_in"
    AGENT_SUSPENDED = "agent_suspended"
    VISIT_WITHDRAWN = "visit_withdrawn"


class AssignmentReleased(Payload):
    """An assignment ended before its agent checked in.

    The agent gave it back, did not check in by the assignment's
    `check_in_by`, was suspended, or the tenant withdrew the visit. Unless
    the visit was withdrawn, matching dispatches it again, never to the same
    agent, and a later `campo.assignment.created` names the next one.
    """

    event_type = "campo.assignment.released"
    topic = topics.ASSIGNMENTS

    assignment_id: UUID
    visit_id: UUID
    agent_id: UUID
    reason: ReleaseReason
    released_at: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class DeclineReason(StrEnum):
    TOO_FAR = "too_far"
    NO_TIME = "no_time"
    UNSAFE_AREA = "unsafe_area"
    FEE_TOO_LOW = "fee_too_low"
    OTHER = "other"


class OfferMade(Payload):
    """An agent may take a visit until `expires_at`; no debtor data travels."""

    event_type = "campo.offer.made"
    topic = topics.ASSIGNMENTS

    offer_id: UUID
    visit_id: UUID
    agent_id: UUID
    mode: DispatchMode
    distance_m: float
    offered_at: datetime
    expires_at: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class OfferDeclined(Payload):
    event_type = "campo.offer.declined"
    topic = topics.ASSIGNMENTS

    offer_id: UUID
    visit_id: UUID
    agent_id: UUID
    reason: DeclineReason
    declined_at: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class OfferExpired(Payload):
    """The agent let the offer run out without an answer."""

    event_type = "campo.offer.expired"
    topic = topics.ASSIGNMENTS

    offer_id: UUID
    visit_id: UUID
    agent_id: UUID
    expired_at: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class VisitUnmatched(Payload):
    """A visit no agent took: none covers it, none accepted in time, or too late.

    `reason` is `out_of_coverage` or `expired`; `nearest_agent_distance_m` is
    the distance to the closest agent, so the operator knows where to recruit.
    """

    event_type = "campo.visit.unmatched"
    topic = topics.ASSIGNMENTS

    visit_id: UUID
    reason: str = "out_of_coverage"
    nearest_agent_distance_m: float | None
    decided_at: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


# --- visits.v1 --------------------------------------------------------------


class VisitAssigned(Payload):
    event_type = "campo.visit.assigned"
    topic = topics.VISITS

    visit_id: UUID
    campaign_id: UUID
    account_id: UUID
    agent_id: UUID
    requested_at: datetime
    assigned_at: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class VisitCheckedIn(Payload):
    event_type = "campo.visit.checked_in"
    topic = topics.VISITS

    visit_id: UUID
    campaign_id: UUID
    agent_id: UUID
    checked_in_at: datetime
    device_time: datetime
    distance_m: float
    accuracy_m: float
    verified: bool
    lat: float | None = Field(
        default=None, description="The check-in's GPS latitude; absent in older events."
    )
    lon: float | None = Field(
        default=None,
        description="The check-in's GPS longitude; absent in older events.",
    )

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class AccountLocationObserved(Payload):
    """A verified check-in placed the door of a coarsely geocoded address.

    Only the first verified fix of a visit without a mocked location is
    reported, and only for the address the visit was requested for.
    `geocoded_location` is the point the visit was sent with, so that ingest
    applies the observation only while the account still has that point.
    """

    event_type = "campo.account.location_observed"
    topic = topics.VISITS

    visit_id: UUID
    campaign_id: UUID
    account_id: UUID
    agent_id: UUID
    check_in_id: UUID
    location: GeoPoint
    accuracy_m: float = Field(ge=0)
    geocoded_location: GeoPoint
    geocoded_precision: LocationPrecision
    checked_in_at: datetime
    device_time: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class PaymentPromise(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: Money
    due_date: date


class VisitCompleted(Payload):
    event_type = "campo.visit.completed"
    topic = topics.VISITS

    visit_id: UUID
    campaign_id: UUID
    account_id: UUID
    account_key: str
    agent_id: UUID
    submission_id: str
    completed_at: datetime
    device_time: datetime
    person_met: PersonMet
    contact: bool
    debtor_lives_there: bool | None
    promise: PaymentPromise | None = None
    new_phone: str | None = None
    notes: str | None = None
    result_code: str | None = Field(
        default=None,
        description="The result code's id; absent in events from before codes.",
    )
    fraud_score: float | None = Field(
        default=None,
        description="Sum of the fraud signals' weights that fired, from 0 to 1.",
    )
    flagged: bool | None = Field(
        default=None,
        description="True when the score reached the flag mark; None before scoring.",
    )
    photo_ids: list[UUID] = Field(
        default_factory=list,
        description="The photos the result cites; empty in events from before.",
    )

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class VisitReleased(Payload):
    """The agent no longer holds the visit, which waits for another in `requested`.

    Follows `campo.assignment.released` unless the visit was withdrawn (then
    `campo.visit.cancelled` follows) or the agent had already checked in.
    """

    event_type = "campo.visit.released"
    topic = topics.VISITS

    visit_id: UUID
    campaign_id: UUID
    account_id: UUID
    agent_id: UUID
    assignment_id: UUID
    reason: ReleaseReason
    released_at: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class VisitOutOfCoverage(Payload):
    event_type = "campo.visit.out_of_coverage"
    topic = topics.VISITS

    visit_id: UUID
    campaign_id: UUID
    account_id: UUID
    nearest_agent_distance_m: float | None
    decided_at: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class VisitExpired(Payload):
    """The visit's deadline passed before any agent took it or finished it."""

    event_type = "campo.visit.expired"
    topic = topics.VISITS

    visit_id: UUID
    campaign_id: UUID
    account_id: UUID
    agent_id: UUID | None = None
    decided_at: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class VisitCancelled(Payload):
    """A withdrawn visit was cancelled before the agent checked in.

    `agent_id` is the agent who held it, or None when no agent had taken it.
    """

    event_type = "campo.visit.cancelled"
    topic = topics.VISITS

    visit_id: UUID
    campaign_id: UUID
    account_id: UUID
    agent_id: UUID | None = None
    reason: WithdrawalReason
    decided_at: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class Relation(StrEnum):
    """The relation to the debtor of a person who gave contact data."""

    SELF = "self"
    GUARANTOR = "guarantor"
    CO_OBLIGOR = "co_obligor"
    SPOUSE = "spouse"
    RELATIVE = "relative"
    NEIGHBOUR = "neighbour"
    EMPLOYER = "employer"
    COWORKER = "coworker"
    OTHER = "other"


class PhoneKind(StrEnum):
    MOBILE = "mobile"
    HOME = "home"
    WORK = "work"
    OTHER = "other"


class ReportedPhone(BaseModel):
    """A phone number heard at the door, with who gave it."""

    model_config = ConfigDict(frozen=True)

    number: str = Field(description="E.164, e.g. +525512345678.")
    kind: PhoneKind = PhoneKind.MOBILE
    owner: Relation = Field(
        default=Relation.SELF,
        description="Whose phone it is, relative to the debtor; self for the debtor.",
    )
    given_by: Relation = Field(
        description="Who gave the number, relative to the debtor; self for the debtor."
    )
    whatsapp: bool = False


class BestTime(BaseModel):
    """Local days and hours at which the debtor is likely to be found: [start, end)."""

    model_config = ConfigDict(frozen=True)

    days: list[Weekday] = Field(min_length=1, max_length=7)
    start: LocalTime
    end: LocalTime


class ReportedAddress(BaseModel):
    """An address heard at the door; the campaign decides whether to visit it."""

    model_config = ConfigDict(frozen=True)

    address: Address
    given_by: Relation


class ContactUpdate(BaseModel):
    """Contact data an agent gathered on a visit."""

    model_config = ConfigDict(frozen=True)

    phones: list[ReportedPhone] = Field(default_factory=list)
    best_times: list[BestTime] = Field(default_factory=list)
    new_address: ReportedAddress | None = None

    @property
    def is_empty(self) -> bool:
        return not self.phones and not self.best_times and self.new_address is None


class ContactDataUpdated(Payload):
    """A visit's result brought new contact data about the debtor.

    The visit stays filed for its own address; a new address here is only
    reported, for the campaign to decide whether to visit it.
    """

    event_type = "campo.contact_data.updated"
    topic = topics.VISITS

    visit_id: UUID
    campaign_id: UUID
    account_id: UUID
    account_key: str
    agent_id: UUID
    result_id: UUID
    result_code: str
    reported_at: datetime
    update: ContactUpdate

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class PromiseMade(Payload):
    event_type = "campo.promise.made"
    topic = topics.VISITS

    promise_id: UUID
    visit_id: UUID
    campaign_id: UUID
    account_id: UUID
    amount: Money
    due_date: date

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class PromiseStatusChanged(Payload):
    """A payment promise that moved to a new status, one subclass per status.

    `amount_paid` is everything paid against the promise so far. `broken_at`
    stays set once the promise was broken, so a later `kept` with it set is a
    promise kept late.
    """

    topic = topics.VISITS

    promise_id: UUID
    visit_id: UUID
    campaign_id: UUID
    account_id: UUID
    amount: Money
    amount_paid: Money
    due_date: date
    status: str
    payment_id: UUID | None = None
    broken_at: datetime | None = None
    changed_at: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class PromiseKept(PromiseStatusChanged):
    event_type = "campo.promise.kept"


class PromisePartlyKept(PromiseStatusChanged):
    event_type = "campo.promise.partly_kept"


class PromiseBroken(PromiseStatusChanged):
    event_type = "campo.promise.broken"


class VisitRejected(Payload):
    """A director rejected a completed visit: it is not paid and the account
    is owed another visit, which ingest requests as a new attempt."""

    event_type = "campo.visit.rejected"
    topic = topics.VISITS

    visit_id: UUID
    campaign_id: UUID
    account_id: UUID
    agent_id: UUID | None
    attempt: int
    reason: str
    fee: Money = Field(description="The fee the agent does not earn.")
    rejected_at: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class VisitAppealed(Payload):
    """The agent appealed a rejection once, with a text for the director."""

    event_type = "campo.visit.appealed"
    topic = topics.VISITS

    visit_id: UUID
    campaign_id: UUID
    account_id: UUID
    agent_id: UUID
    text: str
    appealed_at: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class AppealOutcome(StrEnum):
    UPHELD = "upheld"
    OVERTURNED = "overturned"


class VisitAppealResolved(Payload):
    """The director decided an appeal.

    `upheld` keeps the rejection. `overturned` makes the visit completed and
    paid again; ingest then drops the new attempt if it is still waiting.
    """

    event_type = "campo.visit.appeal_resolved"
    topic = topics.VISITS

    visit_id: UUID
    campaign_id: UUID
    account_id: UUID
    agent_id: UUID | None
    outcome: AppealOutcome
    note: str | None = None
    fee: Money
    resolved_at: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class AgentFeeMoved(Payload):
    """A movement in an agent's earnings ledger, one subclass per kind.

    `amount` is signed as the ledger row: positive when earned, negative
    when reversed. `reason` says what caused it (`review_window_closed`,
    `appeal_overturned`, `rejected`).
    """

    topic = topics.VISITS

    movement_id: UUID
    visit_id: UUID
    agent_id: UUID
    attempt: int
    amount: Money
    reason: str
    occurred_at: datetime

    def aggregate_id(self) -> str:
        return str(self.visit_id)


class AgentFeeEarned(AgentFeeMoved):
    event_type = "campo.agent.fee_earned"


class AgentFeeReversed(AgentFeeMoved):
    event_type = "campo.agent.fee_reversed"


# --- payments.v1 ------------------------------------------------------------


class PaymentReported(Payload):
    """A payment the tenant's systems reported for an account."""

    event_type = "campo.payment.reported"
    topic = topics.PAYMENTS

    payment_id: UUID
    account_id: UUID
    account_key: str
    amount: Money
    paid_on: date
    reference: str
    reported_at: datetime

    def aggregate_id(self) -> str:
        return str(self.account_id)


PAYLOAD_TYPES: dict[str, type[Payload]] = {
    model.event_type: model
    for model in (
        TenantCreated,
        ApiKeyCreated,
        ApiKeyRevoked,
        PersonalDataRead,
        OperatorCommandRun,
        SigningKeyPublished,
        SigningKeyRetired,
        AccountUpserted,
        CampaignLaunched,
        VisitRequested,
        VisitWithdrawn,
        AssignmentCreated,
        OfferMade,
        OfferDeclined,
        OfferExpired,
        VisitUnmatched,
        VisitAssigned,
        VisitCheckedIn,
        AccountLocationObserved,
        VisitCompleted,
        VisitReleased,
        VisitOutOfCoverage,
        VisitExpired,
        PromiseMade,
        PromiseKept,
        PromisePartlyKept,
        PromiseBroken,
        ContactDataUpdated,
        PaymentReported,
        VisitRejected,
        VisitAppealed,
        VisitAppealResolved,
        AgentFeeEarned,
        AgentFeeReversed,
    )
}
