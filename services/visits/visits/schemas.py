"""Request and response bodies of the agent and tenant APIs."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from shared.events.payloads import (
    Address,
    AppealOutcome,
    Brief,
    ContactUpdate,
    GeoPoint,
    LocalTime,
    Money,
    PersonMet,
    PhoneKind,
    Relation,
)
from shared.masking import (
    MASK,
    coarse_coordinate,
    mask_address_lines,
    mask_phone,
    mask_text,
)
from shared.schemas import CurrencyCode, RequestModel
from shared.visiting_hours import Weekday
from visits.states import VisitState


def reject_nul(value: str) -> str:
    """Reject a NUL character, which PostgreSQL cannot store in text or JSON."""
    if "\x00" in value:
        raise PydanticCustomError(
            "nul_character",
            "the text contains a NUL character (\\x00), which cannot be stored. "
            "Remove it and send the request again.",
        )
    return value


Text = Annotated[str, AfterValidator(reject_nul)]
"""A string that may contain any character except NUL."""

TrimmedText = Annotated[
    str, StringConstraints(strip_whitespace=True), AfterValidator(reject_nul)
]
"""A `Text` stripped of surrounding whitespace before its length is checked."""

# --- agent API --------------------------------------------------------------


class AgentVisit(BaseModel):
    """A visit with everything the agent needs at the door."""

    visit_id: UUID
    campaign_id: UUID
    attempt: int
    state: VisitState
    brief: Brief | None = Field(description="None once the visit is closed.")
    debtor_name: str | None = Field(description="None once the visit is closed.")
    phone: str | None
    address: Address
    location: GeoPoint | None = Field(description="None once the visit is closed.")
    balance_overdue: Money | None
    days_past_due: int | None
    deadline: datetime
    fee: Money
    requested_at: datetime
    assigned_at: datetime | None
    checked_in_at: datetime | None
    debtor_data_withheld: bool = Field(
        default=False,
        description=(
            "True for a closed visit (completed, rejected, expired, cancelled): "
            "the debtor's name, phone, street address, position and debt are "
            "withheld and only the area stays."
        ),
    )


class AgentVisitList(BaseModel):
    items: list[AgentVisit]
    limit: int
    offset: int


class CheckInRequest(RequestModel):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    accuracy_m: float = Field(
        ge=0, le=1_000_000, allow_inf_nan=False, description="GPS accuracy radius."
    )
    device_time: AwareDatetime = Field(description="When the device took the fix.")
    mock_location: bool = Field(
        default=False, description="True when the OS reports a mocked location."
    )


class CheckInResponse(BaseModel):
    check_in_id: UUID
    visit_id: UUID
    state: VisitState
    distance_m: float = Field(description="Distance from the fix to the address.")
    verified: bool = Field(
        description="Within the geofence, accurate enough and not mocked."
    )
    checked_in_at: datetime = Field(description="Server time of this check-in.")


class PromiseRequest(RequestModel):
    amount: Decimal = Field(lt=Decimal("1000000000000"))
    currency: CurrencyCode
    due_date: date


RESULT_CODE_PATTERN = r"^[a-z][a-z0-9_]{1,59}$"

ShortText = Annotated[Text, Field(max_length=300)]


class AddressIn(RequestModel):
    street: ShortText | None = None
    exterior_number: Annotated[Text, Field(max_length=50)] | None = None
    interior_number: Annotated[Text, Field(max_length=50)] | None = None
    colonia: ShortText | None = None
    municipality: ShortText | None = None
    state: ShortText | None = None
    postal_code: str | None = Field(default=None, pattern=r"^[0-9]{5}$")
    cross_streets: ShortText | None = None
    address_references: Annotated[Text, Field(max_length=500)] | None = None


class NewAddressIn(RequestModel):
    address: AddressIn
    given_by: Relation = Field(
        description="Who gave the address, relative to the debtor; self for the debtor."
    )


class PhoneIn(RequestModel):
    number: Annotated[Text, Field(max_length=32)] = Field(
        description="E.164, e.g. +525512345678."
    )
    kind: PhoneKind = PhoneKind.MOBILE
    owner: Relation = Field(
        default=Relation.SELF,
        description="Whose phone it is, relative to the debtor; self for the debtor.",
    )
    given_by: Relation = Field(
        description="Who gave the number, relative to the debtor; self for the debtor."
    )
    whatsapp: bool = False


class BestTimeIn(RequestModel):
    days: list[Weekday] = Field(min_length=1, max_length=7)
    start: LocalTime = Field(description="Local time at the address, no offset.")
    end: LocalTime


class ContactUpdateIn(RequestModel):
    """Contact data gathered at the door; a new address never moves the visit."""

    phones: list[PhoneIn] = Field(default_factory=list, max_length=10)
    best_times: list[BestTimeIn] = Field(default_factory=list, max_length=7)
    new_address: NewAddressIn | None = None

    def payload(self) -> ContactUpdate:
        return ContactUpdate.model_validate(self.model_dump())


class ResultRequest(RequestModel):
    submission_id: Text = Field(
        min_length=1,
        max_length=100,
        description="Chosen by the device; sending it again replays the response.",
    )
    device_time: AwareDatetime
    person_met: PersonMet
    result_code: str = Field(
        pattern=RESULT_CODE_PATTERN,
        description="A standard or tenant code from GET /result-codes.",
    )
    debtor_lives_there: bool | None = None
    promise: PromiseRequest | None = None
    contact_update: ContactUpdateIn | None = None
    new_phone: Text | None = Field(default=None, max_length=32)
    notes: Text | None = Field(default=None, max_length=4000)
    answers: dict[str, Any] = Field(
        default_factory=dict, description="Answers to the brief's questions."
    )
    photo_ids: list[UUID] = Field(
        default_factory=list,
        max_length=20,
        description="Photos uploaded to this visit that the result cites.",
    )


class PromiseOut(BaseModel):
    promise_id: UUID
    amount: Decimal
    currency: str
    due_date: date
    status: str = Field(
        default="pending", description="pending, partly_kept or kept, from payments."
    )
    amount_kept: Decimal = Field(
        default=Decimal("0.00"), description="Sum of the payments applied so far."
    )


class ResultResponse(BaseModel):
    result_id: UUID
    visit_id: UUID
    state: VisitState
    submission_id: str
    server_time: datetime
    contact: bool
    promise: PromiseOut | None
    result_code: str | None = Field(
        default=None, description="None only for results from before result codes."
    )


# --- tenant API -------------------------------------------------------------


class VisitSummary(BaseModel):
    visit_id: UUID
    campaign_id: UUID
    account_id: UUID
    account_key: str
    attempt: int
    state: VisitState
    state_reason: str | None
    final: bool = Field(
        description=(
            "True when the agent's work on the visit is over; a director's "
            "review may still move completed to rejected and back."
        )
    )
    agent_id: UUID | None
    requested_at: datetime
    assigned_at: datetime | None
    checked_in_at: datetime | None
    completed_at: datetime | None
    closed_at: datetime | None
    deadline: datetime
    first_check_in_distance_m: float | None
    nearest_agent_distance_m: float | None
    flagged: bool | None = Field(
        default=None, description="Fraud score past the mark; None before a result."
    )


class VisitPage(BaseModel):
    items: list[VisitSummary]
    total: int
    limit: int
    offset: int


class CheckInOut(BaseModel):
    check_in_id: UUID
    distance_m: float
    accuracy_m: float
    verified: bool
    mock_location: bool
    device_time: datetime
    server_time: datetime


class ResultOut(BaseModel):
    result_id: UUID
    submission_id: str
    agent_id: UUID
    person_met: PersonMet
    result_code: str | None
    contact: bool
    debtor_lives_there: bool | None
    contact_update: ContactUpdate | None
    new_phone: str | None
    notes: str | None
    answers: dict[str, Any]
    device_time: datetime
    server_time: datetime
    promise: PromiseOut | None

    def masked(self) -> "ResultOut":
        """Return the result with the phones, address, notes and typed answers masked.

        Answers that are numbers or booleans are kept. Every text answer
        reads `***`, because the form may ask for anything (a new address, a
        name).
        """
        update: dict[str, Any] = {
            "new_phone": mask_phone(self.new_phone),
            "notes": mask_text(self.notes),
            "answers": _masked_answers(self.answers),
        }
        if self.contact_update is not None:
            update["contact_update"] = _masked_contact(self.contact_update)
        return self.model_copy(update=update)


def _masked_answers(value: Any) -> Any:
    if isinstance(value, str):
        return MASK
    if isinstance(value, dict):
        return {name: _masked_answers(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_masked_answers(item) for item in value]
    return value


def _masked_contact(contact: ContactUpdate) -> ContactUpdate:
    phones = [
        phone.model_copy(update={"number": mask_phone(phone.number)})
        for phone in contact.phones
    ]
    update: dict[str, Any] = {"phones": phones}
    if contact.new_address is not None:
        reported = contact.new_address
        address = reported.address.model_validate(
            mask_address_lines(reported.address.model_dump())
        )
        update["new_address"] = reported.model_copy(update={"address": address})
    return contact.model_copy(update=update)


class VisitDetail(VisitSummary):
    check_ins: list[CheckInOut]
    result: ResultOut | None
    photos: list["PhotoOut"] = Field(default_factory=list)
    fraud: "FraudAssessment | None" = Field(
        default=None, description="Fraud signals measured when the result was filed."
    )
    review: "ReviewOut | None" = None

    def masked(self) -> "VisitDetail":
        """Return the visit with the result's personal data and free text masked.

        Photos keep their EXIF coordinates rounded to about a kilometre; the
        review's texts are hidden, as notes are.
        """
        update: dict[str, Any] = {
            "photos": [photo.masked() for photo in self.photos],
        }
        if self.result is not None:
            update["result"] = self.result.masked()
        if self.review is not None:
            update["review"] = self.review.masked()
        return self.model_copy(update=update)


# --- proof and review -------------------------------------------------------


class PhotoOut(BaseModel):
    """A stored photo; `taken_at`, `exif_lat` and `exif_lon` come from its EXIF."""

    photo_id: UUID
    visit_id: UUID
    sha256: str = Field(description="Hex SHA-256 of the bytes.")
    content_type: str = Field(description="Judged from the bytes.")
    size_bytes: int
    width: int | None
    height: int | None
    taken_at: datetime | None = Field(
        description=(
            "EXIF capture time in UTC; None without EXIF, or when neither the "
            "photo nor the upload's device_time gives a UTC offset."
        )
    )
    exif_lat: float | None
    exif_lon: float | None
    result_id: UUID | None = Field(description="The result citing the photo.")
    uploaded_at: datetime

    def masked(self) -> "PhotoOut":
        return self.model_copy(
            update={
                "exif_lat": coarse_coordinate(self.exif_lat),
                "exif_lon": coarse_coordinate(self.exif_lon),
            }
        )


class SignalOut(BaseModel):
    name: str
    value: float | None = Field(
        description="The measured value, or None when there was nothing to measure."
    )
    threshold: float
    weight: float
    unit: str
    fires_when: Literal["above", "below"]
    fired: bool


class FraudAssessment(BaseModel):
    score: float = Field(description="Sum of the weights of the fired signals, ≤ 1.")
    flagged: bool
    signals: list[SignalOut]


class ReviewStatus(StrEnum):
    REJECTED = "rejected"
    APPEALED = "appealed"
    UPHELD = "upheld"
    OVERTURNED = "overturned"


class ReviewOut(BaseModel):
    visit_id: UUID
    status: ReviewStatus
    reason: str
    rejected_at: datetime
    appeal_text: str | None
    appealed_at: datetime | None
    resolution_note: str | None
    resolved_at: datetime | None

    def masked(self) -> "ReviewOut":
        return self.model_copy(
            update={
                "reason": MASK,
                "appeal_text": mask_text(self.appeal_text),
                "resolution_note": mask_text(self.resolution_note),
            }
        )


class RejectRequest(RequestModel):
    reason: TrimmedText = Field(
        min_length=3,
        max_length=2000,
        description="Why the visit is not accepted, 3 characters or more once trimmed.",
    )


class AppealRequest(RequestModel):
    text: TrimmedText = Field(
        min_length=3,
        max_length=4000,
        description="The agent's case, sent once, 3 characters or more once trimmed.",
    )


class AppealResolution(RequestModel):
    outcome: AppealOutcome
    note: Text | None = Field(default=None, max_length=2000)


VisitDetail.model_rebuild()
