"""Request and response models of matching's HTTP API."""

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from matching.models import AgentStatus, AssignmentState, OfferState, TravelMode
from matching.ordering import OfferRanking
from shared.events.payloads import DeclineReason, DispatchMode, Money
from shared.schemas import RequestModel


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
