"""Response models of matching's HTTP API."""

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from matching.models import AgentStatus, AssignmentState, TravelMode
from shared.events.payloads import Money


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
