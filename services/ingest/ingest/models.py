"""Ingest's tables, all in the `ingest` schema and all carrying their tenant."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_base
from shared.tables import define_common_tables

SCHEMA = "ingest"

Base = make_base(SCHEMA)
common = define_common_tables(Base.metadata)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        Index("ix_accounts_tenant_id_account_key", "tenant_id", "account_key"),
        # Keys name the same account when they differ only in case; this is
        # the only unique index on the key, the one the upsert names.
        Index(
            "uq_accounts_tenant_id_lower_account_key",
            "tenant_id",
            func.lower(text("account_key")),
            unique=True,
        ),
        Index("ix_accounts_location", "location", postgresql_using="gist"),
        Index("ix_accounts_tags", "tags", postgresql_using="gin"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    account_key: Mapped[str] = mapped_column(String(100))
    debtor_name: Mapped[str] = mapped_column(String(300))
    balance_overdue: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    days_past_due: Mapped[int | None] = mapped_column(Integer)
    street: Mapped[str | None] = mapped_column(String(300))
    exterior_number: Mapped[str | None] = mapped_column(String(50))
    interior_number: Mapped[str | None] = mapped_column(String(50))
    colonia: Mapped[str | None] = mapped_column(String(200))
    municipality: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(5))
    cross_streets: Mapped[str | None] = mapped_column(String(300))
    address_references: Mapped[str | None] = mapped_column(String(500))
    credit_number: Mapped[str | None] = mapped_column(String(100))
    last_payment_date: Mapped[date | None] = mapped_column(Date)
    birth_date: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20))
    location: Mapped[Any] = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False), nullable=True
    )
    location_precision: Mapped[str | None] = mapped_column(String(20))
    location_source: Mapped[str | None] = mapped_column(String(20))
    location_accuracy_m: Mapped[float | None] = mapped_column(
        Float, doc="The check-in's accuracy; set only while the source is `visit`."
    )
    location_visit_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), doc="The visit whose check-in placed the account."
    )
    location_observed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True)
    )
    location_status: Mapped[str] = mapped_column(
        String(20),
        server_default="unplaced",
        doc="`placed`, or `unplaced` when neither the file nor a geocoder placed it.",
    )
    time_zone: Mapped[str | None] = mapped_column(String(64))
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    tags: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default=text("'{}'")
    )
    do_not_visit_reason: Mapped[str | None] = mapped_column(String(30))
    do_not_contact_reason: Mapped[str | None] = mapped_column(String(30))
    do_not_visit_note: Mapped[str | None] = mapped_column(Text)
    do_not_contact_note: Mapped[str | None] = mapped_column(Text)
    recall_note: Mapped[str | None] = mapped_column(Text)
    recalled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_visit_outcome: Mapped[str | None] = mapped_column(
        String(20), doc="Person met at the latest completed visit."
    )
    last_visited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_upload_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class GeocodeCacheEntry(Base):
    """A provider's result for one address, shared by tenants: no tenant, no debtor.

    `found` false records that the provider has no place for the address, so
    it is not asked again. Provider errors are never stored.
    """

    __tablename__ = "geocode_cache"

    query_key: Mapped[str] = mapped_column(Text, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    found: Mapped[bool] = mapped_column(Boolean)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    precision: Mapped[str | None] = mapped_column(String(20))
    fetched_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Upload(Base):
    __tablename__ = "uploads"
    __table_args__ = (
        Index("ix_uploads_tenant_id_created_at", "tenant_id", "created_at"),
        Index(
            "ix_uploads_running_heartbeat_at",
            "heartbeat_at",
            postgresql_where=text("status IN ('queued', 'processing')"),
        ),
    )

    upload_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    file_format: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_valid: Mapped[int] = mapped_column(Integer, default=0)
    rows_invalid: Mapped[int] = mapped_column(Integer, default=0)
    accounts_created: Mapped[int] = mapped_column(Integer, default=0)
    accounts_updated: Mapped[int] = mapped_column(Integer, default=0)
    accounts_unchanged: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0"
    )
    header_row: Mapped[int | None] = mapped_column(Integer)
    column_report: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # `store_valid` stores the good rows; `reject_all` stores nothing when
    # any row has an error, and the upload ends `rejected`.
    on_error: Mapped[str] = mapped_column(String(20), server_default="store_valid")
    rows_read: Mapped[int] = mapped_column(Integer, server_default="0")
    progress_percent: Mapped[int] = mapped_column(Integer, server_default="0")
    failure_message: Mapped[str | None] = mapped_column(Text)
    # The header row's cells, so the error report repeats the file's columns.
    headers: Mapped[list[str] | None] = mapped_column(JSONB)
    # The process that keeps a background upload's file in memory, and when
    # it last confirmed it is alive. A job whose heartbeat goes stale fails.
    worker_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UploadRowCells(Base):
    """The original cells of a row with errors or warnings, for the report."""

    __tablename__ = "upload_row_cells"

    upload_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.uploads.upload_id", ondelete="CASCADE"),
        primary_key=True,
    )
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    cells: Mapped[list[str | None]] = mapped_column(JSONB)


class UploadSettings(Base):
    """A tenant's upload defaults; a tenant without a row stores valid rows."""

    __tablename__ = "upload_settings"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    on_error: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class AccountHistory(Base):
    """The fields one upload changed on an account: field -> {"old", "new"}."""

    __tablename__ = "account_history"
    __table_args__ = (
        Index(
            "ix_account_history_tenant_id_account_id", "tenant_id", "account_id", "id"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    account_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    upload_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)


class UploadError(Base):
    __tablename__ = "upload_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    upload_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.uploads.upload_id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    row_number: Mapped[int] = mapped_column(Integer)
    column: Mapped[str | None] = mapped_column(String(200))
    value: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(10), default="error")


class ColumnMapping(Base):
    """A tenant's saved header -> field mapping, applied to every upload."""

    __tablename__ = "column_mappings"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    mapping: Mapped[dict[str, str]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'launched', 'paused', 'cancelled', 'completed')",
            name="status",
        ),
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    objective: Mapped[str] = mapped_column(Text)
    questions: Mapped[dict[str, Any]] = mapped_column(JSONB)
    max_discount_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    fee_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    fee_currency: Mapped[str] = mapped_column(String(3))
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    selection: Mapped[dict[str, Any]] = mapped_column(JSONB)
    brief: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, doc="The whole brief as sent in visit requests; None before 0005."
    )
    dispatch: Mapped[dict[str, Any]] = mapped_column(
        JSONB, doc="The dispatch policy sent in visit requests."
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    launched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), doc="When the campaign was cancelled or completed."
    )


class CampaignAccount(Base):
    """An account selected by a campaign, and the visit requested for it."""

    __tablename__ = "campaign_accounts"
    __table_args__ = (UniqueConstraint("campaign_id", "account_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.campaigns.campaign_id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.accounts.account_id")
    )
    visit_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), unique=True)
    excluded_reason: Mapped[str | None] = mapped_column(Text)


class CampaignVisit(Base):
    """One visit a campaign requested: an attempt at one of its accounts."""

    __tablename__ = "campaign_visits"
    __table_args__ = (
        CheckConstraint(
            "state IN ('requested', 'withdrawn', 'completed')", name="state"
        ),
        Index("ix_campaign_visits_campaign_state", "campaign_id", "state"),
        Index("ix_campaign_visits_account_requested", "account_id", "requested_at"),
    )

    visit_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.campaigns.campaign_id", ondelete="CASCADE")
    )
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.accounts.account_id")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawal_reason: Mapped[str | None] = mapped_column(String(30))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    person_met: Mapped[str | None] = mapped_column(String(20))


class Revisit(Base):
    """A new attempt due later because a visit found nobody; the scheduler's queue."""

    __tablename__ = "revisits"
    __table_args__ = (
        CheckConstraint(
            "state IN ('scheduled', 'requested', 'skipped', 'cancelled')",
            name="state",
        ),
        Index(
            "ix_revisits_due",
            "due_at",
            postgresql_where=text("state = 'scheduled'"),
        ),
    )

    revisit_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.campaigns.campaign_id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.accounts.account_id")
    )
    previous_visit_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), unique=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(20))
    visit_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    skip_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class VisitPolicy(Base):
    """A tenant's revisit rules; a tenant without a row gets the defaults."""

    __tablename__ = "visit_policies"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    revisit_delay_seconds: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    max_visits_per_week: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Payment(Base):
    """A payment an integrator reported; its reference is unique per account."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("tenant_id", "account_id", "reference"),)

    payment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.accounts.account_id")
    )
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    paid_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class User(Base):
    """A person of a tenant who logs in: administrator, director or analyst."""

    __tablename__ = "users"
    __table_args__ = (Index("uq_users_email", text("lower(email)"), unique=True),)

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    # Argon2id, in the PHC string format that carries its own parameters.
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RefreshToken(Base):
    """One refresh token; each use replaces it with a new one of the same family.

    A token used twice means it was copied: the whole family is revoked.
    """

    __tablename__ = "refresh_tokens"

    token_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.users.user_id"), index=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    family_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SigningKeySecret(Base):
    """The private half of a signing key, encrypted (AES-GCM) with a setting."""

    __tablename__ = "signing_key_secrets"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    encrypted_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginFailure(Base):
    """Recent failed logins of one email from one client address, and its lock.

    Shared by every ingest process, so replicas and restarts do not reset the
    count. The pair is stored as a digest: the table contains no email or address.
    """

    __tablename__ = "login_failures"

    pair_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The failures inside the window, oldest first; a lock empties it.
    failures: Mapped[list[datetime]] = mapped_column(ARRAY(DateTime(timezone=True)))
    locks: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_failure: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
