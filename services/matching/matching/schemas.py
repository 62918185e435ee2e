"""Request and response models of matching's HTTP API."""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from matching.models import AgentStatus, AssignmentState, OfferState, TravelMode
from matching.ordering import OfferRanking
from shared.events.payloads import DeclineReason, DispatchMode, Money, ReleaseReason
from shared.schemas import RequestModel

# A device clock may run a little fast; a location from further ahead is wrong.
MAX_LOCATION_CLOCK_SKEW = timedelta(minutes=5)
MAX_LOCATION_AGE = timedelta(days=1)
MAX_LOCATION_ACCURACY_M = 10_000


class WorkingWindow(BaseModel):
    start: time
    end: time = Field(description="Not after `start` means the next day.")


class LastLocation(BaseModel):
    lat: float
    lon: float
    accuracy_m: float
    recorded_at: datetime = Field(description="The device's time of the fix.")
    received_at: datetime


class AgentProfile(BaseModel):
    agent_id: uuid.UUID
    name: str
    phone: str
    lat: float
    lon: float
    coverage_radius_m: int
    daily_capacity: int
    assigned_today: int = Field(
        description="Visits assigned to the agent on the current UTC day."
    )
    travel_mode: TravelMode
    status: AgentStatus
    verified: bool
    employer_tenant_id: uuid.UUID | None
    rating: Decimal | None
    created_at: datetime
    coverage_area: dict[str, Any] | None = Field(
        description="GeoJSON area covered instead of the circle, when set."
    )
    time_zone: str | None = Field(
        description="Zone of the working hours; null when no schedule is set "
        "and the agent works any time."
    )
    schedule: dict[str, list[WorkingWindow]] = Field(
        description="Working windows per weekday, monday to sunday."
    )
    last_location: LastLocation | None
    acceptance_rate: float | None = Field(
        description="Accepted offers over answered or lapsed ones; null before "
        "the first."
    )
    completion_rate: float | None = Field(
        description="Done assignments over ended ones; null before the first."
    )


class StatusIn(RequestModel):
    status: Literal["online", "offline"] = Field(
        description="Only an operator suspends or reinstates an agent."
    )


class LocationIn(RequestModel):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    accuracy_m: float = Field(
        gt=0, le=MAX_LOCATION_ACCURACY_M, allow_inf_nan=False, description="Meters."
    )
    recorded_at: AwareDatetime = Field(
        description="The device's time of the fix, with its offset."
    )

    @field_validator("recorded_at")
    @classmethod
    def _check_time(cls, value: datetime) -> datetime:
        now = datetime.now(UTC)
        if value > now + MAX_LOCATION_CLOCK_SKEW:
            raise ValueError(
                f"recorded_at {value.isoformat()} is in the future; check the "
                "device's clock"
            )
        if value < now - MAX_LOCATION_AGE:
            raise ValueError(f"recorded_at {value.isoformat()} is more than a day old")
        return value


class AgentAssignment(BaseModel):
    """One of the agent's visits, without debtor data: the visits API has that."""

    assignment_id: uuid.UUID
    visit_id: uuid.UUID
    tenant_id: uuid.UUID
    state: AssignmentState
    colonia: str | None
    municipality: str | None
    distance_m: float = Field(description="Meters from the agent's base.")
    fee: Money
    deadline: datetime
    assigned_at: datetime
    check_in_by: datetime | None = Field(
        default=None,
        description=(
            "Check in at the address by then, or the visit goes to another "
            "agent. Null for assignments made before check-in deadlines."
        ),
    )
    checked_in_at: datetime | None = Field(
        default=None, description="The first check-in, once visits reported it."
    )
    release_reason: ReleaseReason | None = Field(
        default=None, description="Why a released assignment ended."
    )
    ended_at: datetime | None = Field(
        default=None, description="When the assignment was released or done."
    )


class AgentReleaseReason(StrEnum):
    """Reasons an agent may give for handing a visit back."""

    CANNOT_REACH = ReleaseReason.CANNOT_REACH.value
    UNSAFE = ReleaseReason.UNSAFE.value
    SCHEDULE_CONFLICT = ReleaseReason.SCHEDULE_CONFLICT.value
    PERSONAL = ReleaseReason.PERSONAL.value
    OTHER = ReleaseReason.OTHER.value


class ReleaseIn(RequestModel):
    """Body of an agent's request to give a visit back before checking in."""

    reason: AgentReleaseReason
    note: str | None = Field(
        default=None,
        max_length=500,
        description="Free text for the operator; never shown to the tenant.",
    )


class VisitAssignment(BaseModel):
    assignment_id: uuid.UUID
    visit_id: uuid.UUID
    agent_id: uuid.UUID
    state: AssignmentState
    distance_m: float = Field(description="Meters from the agent's base.")
    assigned_at: datetime


class VisitOffer(BaseModel):
    """One offer of a tenant's visit, with the ranking that chose its agent."""

    offer_id: uuid.UUID
    agent_id: uuid.UUID
    state: OfferState
    distance_m: float = Field(description="Meters from the agent's base.")
    offered_at: datetime
    expires_at: datetime | None = Field(
        description="None when the visit was assigned with no acceptance step."
    )
    responded_at: datetime | None = Field(
        description="When the offer was accepted, declined, expired or withdrawn."
    )
    decline_reason: DeclineReason | None
    ranking: OfferRanking | None = Field(
        description="None for offers made before rankings were stored."
    )


class AgentOffer(BaseModel):
    """An open offer as the agent sees it before accepting: area, pay and time.

    No debtor data: the visits API shows the address and the brief once the
    agent holds the assignment.
    """

    offer_id: uuid.UUID
    visit_id: uuid.UUID
    mode: DispatchMode = Field(
        description="`offer` when the offer is the agent's alone, `broadcast` "
        "when other agents see the visit too and the first to accept takes it."
    )
    colonia: str | None
    municipality: str | None
    state: str | None = Field(description="The address's state, e.g. Jalisco.")
    distance_m: float = Field(description="Meters from the agent's base.")
    fee: Money
    deadline: datetime = Field(description="The visit must be made by then.")
    offered_at: datetime
    expires_at: datetime = Field(description="Accept before this, or it passes on.")


class DeclineIn(RequestModel):
    reason: DeclineReason
    note: str | None = Field(
        default=None,
        max_length=500,
        description="Free text for the operator; never shown to the tenant.",
    )


class OfferAnswer(BaseModel):
    offer_id: uuid.UUID
    visit_id: uuid.UUID
    state: OfferState


class RouteStart(BaseModel):
    lat: float
    lon: float
    source: Literal["last_location", "base"] = Field(
        description="`last_location` when the app reported a fresh fix, else `base`."
    )
    at: datetime = Field(description="When the route starts from there.")


class RouteStopOut(BaseModel):
    """One stop of the day, without debtor data: the visits API has the address."""

    visit_id: uuid.UUID
    colonia: str | None
    municipality: str | None
    arrival: datetime = Field(description="Estimated arrival, inside legal hours.")
    departure: datetime = Field(description="Arrival plus the time a visit takes.")
    leg_m: int = Field(description="Meters from the previous stop or the start.")


class RouteMissed(BaseModel):
    """An active visit the day cannot hold, and why."""

    visit_id: uuid.UUID
    colonia: str | None
    municipality: str | None
    reason: str = Field(
        description="`outside_hours`: no legal visiting time in the agent's working "
        "hours before the deadline on this day; `cannot_reach`: even going there "
        "first the agent would arrive too late; `day_full`: it does not fit with "
        "the stops kept."
    )


class AgentRoute(BaseModel):
    date: date
    time_zone: str = Field(description="The zone the date is read in.")
    start: RouteStart
    stops: list[RouteStopOut] = Field(description="In the order to visit them.")
    return_leg_m: int = Field(description="Meters back to base; 0 with no return.")
    distance_m: int = Field(description="Legs plus the return, street estimate.")
    travel_minutes: float
    finish_at: datetime = Field(
        description="Back at base, or leaving the last stop with no return."
    )
    not_today: list[RouteMissed]
