"""Visits' tables, all in the `visits` schema and all carrying their tenant."""

import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_base
from shared.tables import define_common_tables

SCHEMA = "visits"

Base = make_base(SCHEMA)
common = define_common_tables(Base.metadata)


class Visit(Base):
    """One attempt at one account for one campaign, with the agent's brief."""

    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_tenant_id_campaign_id", "tenant_id", "campaign_id"),
        Index("ix_visits_agent_id_state", "agent_id", "state"),
        Index("ix_visits_tenant_id_account_id", "tenant_id", "account_id"),
    )

    visit_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    campaign_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    account_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    account_key: Mapped[str] = mapped_column(String(100))
    attempt: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    state_reason: Mapped[str | None] = mapped_column(String(50))
    objective: Mapped[str] = mapped_column(Text)
    questions: Mapped[dict[str, Any]] = mapped_column(JSONB)
    max_discount_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    brief: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, doc="The whole brief of the request; None for visits stored before it."
    )
    debtor_name: Mapped[str] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(20))
    street: Mapped[str | None] = mapped_column(String(300))
    exterior_number: Mapped[str | None] = mapped_column(String(50))
    interior_number: Mapped[str | None] = mapped_column(String(50))
    colonia: Mapped[str | None] = mapped_column(String(200))
    municipality: Mapped[str | None] = mapped_column(String(200))
    address_state: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(5))
    cross_streets: Mapped[str | None] = mapped_column(String(300))
    address_references: Mapped[str | None] = mapped_column(String(500))
    location: Mapped[Any] = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False)
    )
    location_precision: Mapped[str | None] = mapped_column(
        String(20), doc="The geocode's precision; None for requests without one."
    )
    location_accuracy_m: Mapped[float | None] = mapped_column(
        Float, doc="The fix's accuracy when a visit placed the account."
    )
    balance_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    balance_currency: Mapped[str | None] = mapped_column(String(3))
    days_past_due: Mapped[int | None] = mapped_column(Integer)
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    fee_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    fee_currency: Mapped[str] = mapped_column(String(3))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    agent_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assignment_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True),
        doc="Matching's assignment that holds the visit; None while no agent "
        "does, and for visits assigned before it was stored.",
    )
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    check_in_count: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), doc="When the visit reached a final state."
    )
    nearest_agent_distance_m: Mapped[float | None] = mapped_column(Float)
    time_zone: Mapped[str | None] = mapped_column(
        String(64), doc="IANA zone of the address; None when the request had none."
    )
    visiting_start: Mapped[time | None] = mapped_column(Time)
    visiting_end: Mapped[time | None] = mapped_column(Time)
    visiting_days: Mapped[list[str] | None] = mapped_column(
        JSONB, doc="Weekdays the campaign allows; None for every day."
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class AssignmentRelease(Base):
    """An assignment matching took back from its agent before the visit began.

    Kept after the visit is assigned again, so that the released agent's
    check-in or result gets a 409 with the reason, and so that a late copy of
    the released assignment never assigns the visit to that agent again.
    """

    __tablename__ = "assignment_releases"
    __table_args__ = (
        Index("ix_assignment_releases_visit_id_agent_id", "visit_id", "agent_id"),
    )

    assignment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True
    )
    visit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.visits.visit_id", ondelete="CASCADE")
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    agent_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    reason: Mapped[str] = mapped_column(String(30))
    released_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CheckIn(Base):
    """One GPS fix an agent sent at the door; recorded even when far away."""

    __tablename__ = "check_ins"
    __table_args__ = (
        Index("ix_check_ins_agent_id_device_time", "agent_id", "device_time"),
    )

    check_in_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    visit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.visits.visit_id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    agent_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    location: Mapped[Any] = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False)
    )
    accuracy_m: Mapped[float] = mapped_column(Float)
    mock_location: Mapped[bool] = mapped_column(Boolean)
    distance_m: Mapped[float] = mapped_column(Float)
    verified: Mapped[bool] = mapped_column(Boolean)
    device_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    server_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VisitResult(Base):
    """A result the agent reported at the door, with the response body sent back."""

    __tablename__ = "results"
    __table_args__ = (UniqueConstraint("agent_id", "submission_id"),)

    result_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    visit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.visits.visit_id", ondelete="CASCADE"), unique=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    agent_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    submission_id: Mapped[str] = mapped_column(String(100))
    person_met: Mapped[str] = mapped_column(String(20))
    result_code: Mapped[str | None] = mapped_column(String(60))
    contact: Mapped[bool] = mapped_column(Boolean)
    contact_update: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    debtor_lives_there: Mapped[bool | None] = mapped_column(Boolean)
    new_phone: Mapped[str | None] = mapped_column(String(20))
    notes: Mapped[str | None] = mapped_column(Text)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB)
    device_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    server_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    response: Mapped[dict[str, Any]] = mapped_column(
        JSONB, doc="The first response body, replayed on a resubmission."
    )
    fraud_score: Mapped[float | None] = mapped_column(
        Float, doc="Sum of the weights of the signals that fired, at most 1."
    )
    flagged: Mapped[bool | None] = mapped_column(Boolean)
    signals: Mapped[list[dict[str, Any]] | None] = mapped_column(
        JSONB, doc="Each fraud signal measured when the result was filed."
    )


class Promise(Base):
    """A payment promise made at the door, at most one per result."""

    __tablename__ = "promises"
    __table_args__ = (
        Index(
            "ix_promises_open_due_date",
            "due_date",
            postgresql_where=text(
                "status IN ('pending', 'partly_kept') AND broken_at IS NULL"
            ),
        ),
    )

    promise_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    result_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.results.result_id", ondelete="CASCADE"), unique=True
    )
    visit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.visits.visit_id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(
        String(20), default="pending", server_default="pending"
    )
    amount_kept: Mapped[Decimal] = mapped_column(
        Numeric(14, 2), default=Decimal("0"), server_default="0"
    )
    kept_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), doc="When a payment first reached the amount."
    )
    broken_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        doc="When the due date and the grace passed unpaid; kept after a late payment.",
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class PromisePayment(Base):
    """A reported payment, so that a repeat applies nothing.

    `promise_id` is None while no promise took the payment: a promise
    recorded later takes those paid on or after its visit's check-in day.
    """

    __tablename__ = "promise_payments"
    __table_args__ = (
        Index(
            "ix_promise_payments_unclaimed",
            "tenant_id",
            "account_id",
            postgresql_where=text("promise_id IS NULL"),
        ),
    )

    payment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    promise_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.promises.promise_id", ondelete="CASCADE")
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), doc="None for payments stored before unclaimed ones were."
    )
    currency: Mapped[str | None] = mapped_column(String(3))
    paid_on: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TenantResultCode(Base):
    """A result code a tenant added under one of the standard categories."""

    __tablename__ = "tenant_result_codes"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    category: Mapped[str] = mapped_column(String(20))
    label_es: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    worked: Mapped[bool] = mapped_column(Boolean)
    promise: Mapped[bool] = mapped_column(Boolean)
    debtor_gone: Mapped[bool] = mapped_column(Boolean)
    revisit: Mapped[bool] = mapped_column(Boolean)
    billable: Mapped[bool] = mapped_column(Boolean)
    agent_paid: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class TenantVisitRules(Base):
    """A tenant's own rules for visits; a missing row means no extra rule."""

    __tablename__ = "tenant_visit_rules"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    max_visits_per_account_week: Mapped[int | None] = mapped_column(Integer)
    promise_grace_days: Mapped[int] = mapped_column(
        Integer, default=3, server_default="3"
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Photo(Base):
    """A photo the agent took at the door; the bytes live in the photo store."""

    __tablename__ = "photos"
    __table_args__ = (
        UniqueConstraint("visit_id", "sha256"),
        Index("ix_photos_sha256", "sha256"),
    )

    photo_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    visit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.visits.visit_id", ondelete="CASCADE")
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    agent_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    sha256: Mapped[str] = mapped_column(String(64), doc="Hex digest; the store key.")
    content_type: Mapped[str] = mapped_column(String(30))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    taken_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), doc="EXIF capture time, when the photo has one."
    )
    exif_lat: Mapped[float | None] = mapped_column(Float)
    exif_lon: Mapped[float | None] = mapped_column(Float)
    result_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), doc="The result that cites this photo, once filed."
    )
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Review(Base):
    """A director's rejection of a completed visit, and the agent's appeal."""

    __tablename__ = "reviews"

    visit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.visits.visit_id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(
        String(20), doc="rejected, appealed, upheld or overturned."
    )
    reason: Mapped[str] = mapped_column(Text)
    rejected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    appeal_text: Mapped[str | None] = mapped_column(Text)
    appealed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AgentEarning(Base):
    """One movement of an agent's fee: earned (positive) or reversed (negative).

    Rows are only ever inserted; a trigger refuses UPDATE and DELETE. The
    unique key makes each movement happen once per visit, kind and cause,
    so a pass run twice or a retried request writes no second row.
    """

    __tablename__ = "agent_earnings"
    __table_args__ = (
        UniqueConstraint("visit_id", "kind", "reason"),
        Index("ix_agent_earnings_agent_id_occurred_at", "agent_id", "occurred_at"),
        Index(
            "ix_agent_earnings_tenant_id_agent_id_occurred_at",
            "tenant_id",
            "agent_id",
            "occurred_at",
        ),
    )

    movement_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    visit_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    agent_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    attempt: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(20), doc="earned or reversed.")
    reason: Mapped[str] = mapped_column(
        String(40), doc="review_window_closed, appeal_overturned or rejected."
    )
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
