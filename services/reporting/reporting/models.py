"""Reporting's read models, stream log and webhook tables, in the `reporting` schema.

Every table defined here carries tenant_id. The read models are written by
upserts whose columns each come from one event type, so events can be handled
in any order and any number of times with the same result.
"""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_base
from shared.tables import define_common_tables

SCHEMA = "reporting"

Base = make_base(SCHEMA)
common = define_common_tables(Base.metadata)

FINAL_STATES = ("completed", "out_of_coverage", "expired", "cancelled", "rejected")

SUBSCRIPTION_ENABLED = "enabled"
SUBSCRIPTION_DISABLED = "disabled"
DELIVERY_PENDING = "pending"
DELIVERY_DELIVERED = "delivered"
DELIVERY_FAILED = "failed"
DELIVERY_CANCELLED = "cancelled"
# Why a delivery exists: the event itself, or a tenant's request to send again.
ORIGIN_EVENT = "event"
ORIGIN_REDELIVERY = "redelivery"
ORIGIN_REPLAY = "replay"

# The most advanced fact wins, whichever event arrived first.
VISIT_STATE_SQL = (
    "CASE"
    " WHEN rejected_at IS NOT NULL AND rejection_overturned_at IS NULL"
    " THEN 'rejected'"
    " WHEN completed_at IS NOT NULL THEN 'completed'"
    " WHEN out_of_coverage_at IS NOT NULL THEN 'out_of_coverage'"
    " WHEN expired_at IS NOT NULL THEN 'expired'"
    " WHEN cancelled_at IS NOT NULL THEN 'cancelled'"
    " WHEN first_check_in_at IS NOT NULL THEN 'checked_in'"
    " WHEN assigned_at IS NOT NULL THEN 'assigned'"
    " ELSE 'requested' END"
)


class Campaign(Base):
    __tablename__ = "campaigns"

    campaign_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    name: Mapped[str] = mapped_column(String(200))
    account_count: Mapped[int] = mapped_column(Integer)
    visit_count: Mapped[int] = mapped_column(Integer)
    excluded_count: Mapped[int] = mapped_column(Integer)
    launched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VisitFact(Base):
    """One row per visit; a column is null until the event that owns it arrives."""

    __tablename__ = "visit_facts"
    __table_args__ = (
        Index("ix_visit_facts_tenant_campaign", "tenant_id", "campaign_id"),
        Index("ix_visit_facts_tenant_requested", "tenant_id", "requested_at"),
    )

    visit_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    account_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_check_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_verified_check_in_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True)
    )
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    person_met: Mapped[str | None] = mapped_column(String(20))
    contact: Mapped[bool | None] = mapped_column(Boolean)
    debtor_lives_there: Mapped[bool | None] = mapped_column(Boolean)
    promise_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    promise_currency: Mapped[str | None] = mapped_column(String(3))
    out_of_coverage_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    nearest_agent_distance_m: Mapped[float | None] = mapped_column(Float)
    expired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str | None] = mapped_column(String(40))
    # The agent of the latest assignment, and the one who filed the result.
    agent_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    agent_assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_agent_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    address_state: Mapped[str | None] = mapped_column(String(100))
    municipality: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(5))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fraud_score: Mapped[float | None] = mapped_column(Float)
    flagged: Mapped[bool | None] = mapped_column(Boolean)
    rejected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejection_overturned_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True)
    )
    promise_status: Mapped[str | None] = mapped_column(String(20))
    promise_amount_paid: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    promise_status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(
        String(20), Computed(VISIT_STATE_SQL, persisted=True)
    )


class Account(Base):
    __tablename__ = "accounts"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class TenantStreamCounter(Base):
    """Last stream sequence number given out per tenant; its row lock orders writers."""

    __tablename__ = "tenant_stream_counters"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class StreamEvent(Base):
    __tablename__ = "stream_events"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    event_type: Mapped[str] = mapped_column(String(50))
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"

    subscription_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    url: Mapped[str] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(50)))
    description: Mapped[str | None] = mapped_column(Text)
    # NOTE: stored in clear, because every attempt is signed with it and HMAC
    # needs the key itself. Anyone who can read this table can forge webhooks.
    secret: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # After a rotation the old secret still signs until it expires, so that
    # receivers can switch over without losing a message.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True)
    )
    # The first failed attempt since the last delivered one; None while healthy.
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookMessage(Base):
    """One event as sent to every subscriber; `body` is the exact signed bytes."""

    __tablename__ = "webhook_messages"
    __table_args__ = (
        Index("ix_webhook_messages_tenant_created", "tenant_id", "created_at"),
    )

    msg_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_type: Mapped[str] = mapped_column(String(50))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class WebhookDelivery(Base):
    """One message to one subscription, with its retry state."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index(
            "uq_webhook_deliveries_event",
            "subscription_id",
            "msg_id",
            unique=True,
            postgresql_where=text("origin = 'event'"),
        ),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("state = 'pending'"),
        ),
    )

    delivery_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.webhook_subscriptions.subscription_id")
    )
    msg_id: Mapped[str] = mapped_column(ForeignKey(f"{SCHEMA}.webhook_messages.msg_id"))
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    origin: Mapped[str] = mapped_column(String(20), server_default="event")


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_subscription", "subscription_id", "attempted_at"),
    )

    attempt_id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.webhook_deliveries.delivery_id")
    )
    subscription_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    attempt_number: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRecord(Base):
    """One read of debtors' personal data, as a service reported it."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_tenant_read_at", "tenant_id", "read_at"),)

    audit_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    actor: Mapped[str] = mapped_column(String(100))
    service: Mapped[str] = mapped_column(String(20))
    resource: Mapped[str] = mapped_column(String(40))
    resource_ids: Mapped[list[str]] = mapped_column(ARRAY(Text))
    visit_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
