"""Tables that every service keeps in its own schema.

The outbox, the consumer's record of handled events and of events deferred
until what they depend on arrives, the replicated tenant directory and API
keys, and stored idempotent responses. Each service calls
`define_common_tables` with its own metadata, so the tables land in its schema.
"""

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID


@dataclass(frozen=True)
class CommonTables:
    outbox: Table
    handled_events: Table
    tenants: Table
    api_keys: Table
    idempotency_keys: Table
    deferred_events: Table
    signing_keys: Table


def define_common_tables(metadata: MetaData) -> CommonTables:
    outbox = Table(
        "outbox",
        metadata,
        Column("seq", BigInteger, Identity(), primary_key=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("source", String(200), nullable=False),
        Column("subject", String(200), nullable=False),
        Column("tenant_id", UUID(as_uuid=True), nullable=False),
        Column("event_time", DateTime(timezone=True), nullable=False),
        Column("data", JSONB, nullable=False),
        Column(
            "created_at",
            DateTime(timezone=True),
            nullable=False,
            server_default=func.now(),
        ),
        Column("sent_at", DateTime(timezone=True)),
        Index(
            "ix_outbox_unsent",
            "seq",
            postgresql_where=text("sent_at IS NULL"),
        ),
    )
    handled_events = Table(
        "handled_events",
        metadata,
        Column("consumer_group", String(200), primary_key=True),
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column(
            "handled_at",
            DateTime(timezone=True),
            nullable=False,
            server_default=func.now(),
        ),
    )
    tenants = Table(
        "tenants",
        metadata,
        Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        Column("name", String(200), nullable=False),
        Column("country", String(2), nullable=False),
        Column("currency", String(3), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    api_keys = Table(
        "api_keys",
        metadata,
        Column("key_id", UUID(as_uuid=True), primary_key=True),
        Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
        Column("prefix", String(32), nullable=False),
        Column("key_hash", String(64), nullable=False, unique=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("revoked_at", DateTime(timezone=True)),
        Column("last_used_at", DateTime(timezone=True)),
        Column("name", String(200)),
        Column("scopes", ARRAY(Text), nullable=False),
    )
    # Public halves of the keys that sign people's access tokens.
    signing_keys = Table(
        "signing_keys",
        metadata,
        Column("kid", String(64), primary_key=True),
        Column("public_jwk", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("retired_at", DateTime(timezone=True)),
    )
    idempotency_keys = Table(
        "idempotency_keys",
        metadata,
        Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        Column("key", String(200), primary_key=True),
        Column("request_fingerprint", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("response_body", Text, nullable=False),
        Column(
            "created_at",
            DateTime(timezone=True),
            nullable=False,
            server_default=func.now(),
        ),
    )
    deferred_events = Table(
        "deferred_events",
        metadata,
        Column("seq", BigInteger, Identity(), primary_key=True),
        Column("consumer_group", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("partition", Integer, nullable=False),
        Column("offset", BigInteger, nullable=False),
        Column("envelope", JSONB, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("next_attempt_at", DateTime(timezone=True), nullable=False),
        Column("last_error", Text),
        Column(
            "created_at",
            DateTime(timezone=True),
            nullable=False,
            server_default=func.now(),
        ),
        UniqueConstraint("consumer_group", "event_id"),
        Index("ix_deferred_events_group_key", "consumer_group", "key", "seq"),
    )
    return CommonTables(
        outbox,
        handled_events,
        tenants,
        api_keys,
        idempotency_keys,
        deferred_events,
        signing_keys,
    )
