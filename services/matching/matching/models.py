"""Matching's tables, all in the `matching` schema.

Agents belong to the platform, not to a tenant. Visit requests, offers and
assignments carry the tenant of the visit.
"""

import uuid
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Time,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_base
from shared.events.payloads import DeclineReason, DispatchMode, ReleaseReason
from shared.tables import define_common_tables

SCHEMA = "matching"

# Upper bound of an agent's coverage radius. The candidate search also uses it
# as a constant search radius, so that the GiST index on base_location can
# narrow the scan before the per-agent radius is checked.
MAX_COVERAGE_RADIUS_M = 200_000

Base = make_base(SCHEMA)
common = define_common_tables(Base.metadata)


class TravelMode(StrEnum):
    WALK = "walk"
    BICYCLE = "bicycle"
    MOTORCYCLE = "motorcycle"
    CAR = "car"


class AgentStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    SUSPENDED = "suspended"


class RequestState(StrEnum):
    """A visit request's place in dispatch.

    `pending` waits for a candidate, `offered` for an answer to its open
    offers; a request is `offered` exactly while it has an open offer.
    """

    PENDING = "pending"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    UNMATCHED = "unmatched"
    DONE = "done"
    CANCELLED = "cancelled"


class OfferState(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class AssignmentState(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    DONE = "done"


def _one_of(column: str, values: type[StrEnum]) -> str:
    listed = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({listed})"


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (
        CheckConstraint(r"phone ~ '^\+[1-9]\d{7,14}$'", name="phone_e164"),
        CheckConstraint(
            f"coverage_radius_m > 0 AND coverage_radius_m <= {MAX_COVERAGE_RADIUS_M}",
            name="coverage_radius_m",
        ),
        CheckConstraint("daily_capacity >= 1", name="daily_capacity"),
        CheckConstraint(_one_of("travel_mode", TravelMode), name="travel_mode"),
        CheckConstraint(_one_of("status", AgentStatus), name="status"),
        Index("ix_agents_base_location", "base_location", postgresql_using="gist"),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(16))
    base_location: Mapped[Any] = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False)
    )
    coverage_radius_m: Mapped[int] = mapped_column(Integer)
    daily_capacity: Mapped[int] = mapped_column(Integer)
    travel_mode: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    verified: Mapped[bool] = mapped_column(Boolean)
    employer_tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), index=True
    )
    rating: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    coverage_area: Mapped[Any | None] = mapped_column(
        Geography("GEOMETRY", srid=4326, spatial_index=False),
        doc="A polygon or multipolygon that replaces the coverage circle when set.",
    )
    time_zone: Mapped[str | None] = mapped_column(
        String(64),
        doc="IANA zone of the working hours; None means no schedule: any time.",
    )
    last_location: Mapped[Any | None] = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False)
    )
    last_location_accuracy_m: Mapped[float | None] = mapped_column(Float)
    last_location_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), doc="The device's time of the last location."
    )
    last_location_received_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True)
    )


class AgentWorkingHours(Base):
    """One weekly working window of an agent, in the agent's time zone.

    `weekday` is 1 for Monday to 7 for Sunday; an `end_time` not after
    `start_time` ends on the next day.
    """

    __tablename__ = "agent_working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 1 AND 7", name="weekday"),
        CheckConstraint("start_time <> end_time", name="window"),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.agents.agent_id", ondelete="CASCADE"), primary_key=True
    )
    weekday: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    start_time: Mapped[time] = mapped_column(Time, primary_key=True)
    end_time: Mapped[time] = mapped_column(Time)


class AgentDailyLoad(Base):
    """Count of visits assigned to an agent on one day.

    `repository.reserve_capacity` keeps it at or below the agent's capacity.
    """

    __tablename__ = "agent_daily_load"
    __table_args__ = (CheckConstraint("assigned >= 0", name="assigned"),)

    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.agents.agent_id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    assigned: Mapped[int] = mapped_column(Integer)


class VisitRequest(Base):
    """A visit to dispatch, copied from `campo.visit.requested` without debtor data."""

    __tablename__ = "visit_requests"
    __table_args__ = (
        CheckConstraint(_one_of("state", RequestState), name="state"),
        CheckConstraint(_one_of("dispatch_mode", DispatchMode), name="dispatch_mode"),
        Index(
            "ix_visit_requests_pending",
            "deadline",
            "visit_id",
            postgresql_where=text("state = 'pending'"),
        ),
        # The expiry pass reads only requests still waiting for an agent.
        Index(
            "ix_visit_requests_waiting",
            "deadline",
            "visit_id",
            postgresql_where=text("state IN ('pending', 'offered')"),
        ),
    )

    visit_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    campaign_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    location: Mapped[Any] = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False)
    )
    colonia: Mapped[str | None] = mapped_column(String(200))
    municipality: Mapped[str | None] = mapped_column(String(200))
    address_state: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(5))
    fee_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    fee_currency: Mapped[str] = mapped_column(String(3))
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(20))
    dispatch_mode: Mapped[str] = mapped_column(
        String(20), server_default=DispatchMode.ASSIGN.value
    )
    offer_timeout_seconds: Mapped[int | None] = mapped_column(Integer)
    broadcast_size: Mapped[int | None] = mapped_column(Integer)
    wait_until: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        doc="When a visit no agent took ends out_of_coverage; None waits for "
        "the deadline.",
    )
    max_wait_seconds: Mapped[int | None] = mapped_column(
        Integer,
        doc="The campaign's wait, kept so that a released visit waits anew; "
        "None for requests stored before it was kept, and for assign mode.",
    )
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    time_zone: Mapped[str | None] = mapped_column(
        String(64),
        doc="IANA time zone of the address; None checks visiting hours in "
        "every zone of Mexico.",
    )
    visiting_start: Mapped[time | None] = mapped_column(
        Time, doc="Start of the campaign's own visiting hours, local time."
    )
    visiting_days: Mapped[list[str] | None] = mapped_column(
        ARRAY(String(9)),
        doc="Weekdays of the campaign's own visiting hours, in the address's "
        "zone; None allows every day.",
    )
    visiting_end: Mapped[time | None] = mapped_column(
        Time, doc="End of the campaign's own visiting hours, local time."
    )
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    marketplace_from: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        doc="Until then only the tenant's own staff may take the visit; None "
        "once everyone may.",
    )
    max_travel_minutes: Mapped[int | None] = mapped_column(
        Integer,
        doc="The campaign's travel-time limit; None for the global one alone.",
    )


class Offer(Base):
    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint(_one_of("state", OfferState), name="state"),
        CheckConstraint(
            f"decline_reason IS NULL OR {_one_of('decline_reason', DeclineReason)}",
            name="decline_reason",
        ),
        # An agent has at most one open offer for a visit.
        Index(
            "uq_offers_open_visit_agent",
            "visit_id",
            "agent_id",
            unique=True,
            postgresql_where=text("state = 'offered'"),
        ),
        Index(
            "ix_offers_open_expires_at",
            "expires_at",
            postgresql_where=text("state = 'offered'"),
        ),
    )

    offer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    visit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.visit_requests.visit_id"), index=True
    )
    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.agents.agent_id"), index=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    state: Mapped[str] = mapped_column(String(20))
    distance_m: Mapped[float] = mapped_column(Float)
    offered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), doc="None for an offer accepted when it was made."
    )
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decline_reason: Mapped[str | None] = mapped_column(String(20))
    decline_note: Mapped[str | None] = mapped_column(String(500))
    ranking: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB,
        doc="Why the agent was chosen: score, factors, rank and weights. None "
        "for offers made before rankings were stored.",
    )


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        CheckConstraint(_one_of("state", AssignmentState), name="state"),
        # A visit has at most one active assignment, whatever the code does.
        Index(
            "uq_assignments_active_visit",
            "visit_id",
            unique=True,
            postgresql_where=text("state = 'active'"),
        ),
        Index("ix_assignments_agent_assigned_at", "agent_id", "assigned_at"),
        CheckConstraint(
            f"release_reason IS NULL OR {_one_of('release_reason', ReleaseReason)}",
            name="release_reason",
        ),
        # The pass that releases assignments nobody checked in to reads these.
        Index(
            "ix_assignments_check_in_due",
            "check_in_by",
            postgresql_where=text("state = 'active' AND checked_in_at IS NULL"),
        ),
    )

    assignment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True
    )
    visit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.visit_requests.visit_id")
    )
    offer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.offers.offer_id"), unique=True
    )
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.agents.agent_id"))
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    state: Mapped[str] = mapped_column(String(20))
    distance_m: Mapped[float] = mapped_column(Float)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    load_day: Mapped[date | None] = mapped_column(
        Date,
        doc="The agent's local day whose capacity the visit took; None for "
        "assignments made before it was stored, which took the UTC day.",
    )
    check_in_by: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        doc="The agent loses the visit without a check-in by then; None for "
        "assignments made before check-in deadlines existed.",
    )
    checked_in_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), doc="The first check-in, as visits reported it."
    )
    release_reason: Mapped[str | None] = mapped_column(
        String(30), doc="Why a released assignment ended; None otherwise."
    )
    release_note: Mapped[str | None] = mapped_column(
        String(500), doc="The agent's own words on giving the visit back."
    )
