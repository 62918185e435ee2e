"""create reporting tables

Revision ID: 0001
Revises:
Create Date: 2026-12-04 03:47:54.641931
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", "account_id", name=op.f("pk_accounts")),
        schema="reporting",
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        schema="reporting",
    )
    op.create_index(
        op.f("ix_reporting_api_keys_tenant_id"),
        "api_keys",
        ["tenant_id"],
        unique=False,
        schema="reporting",
    )
    op.create_table(
        "campaigns",
        sa.Column("campaign_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("account_count", sa.Integer(), nullable=False),
        sa.Column("visit_count", sa.Integer(), nullable=False),
        sa.Column("excluded_count", sa.Integer(), nullable=False),
        sa.Column("launched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_campaigns")),
        schema="reporting",
    )
    op.create_index(
        op.f("ix_reporting_campaigns_tenant_id"),
        "campaigns",
        ["tenant_id"],
        unique=False,
        schema="reporting",
    )
    op.create_table(
        "handled_events",
        sa.Column("consumer_group", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column(
            "handled_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "consumer_group", "event_id", name=op.f("pk_handled_events")
        ),
        schema="reporting",
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", "key", name=op.f("pk_idempotency_keys")),
        schema="reporting",
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
        schema="reporting",
    )
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["seq"],
        unique=False,
        schema="reporting",
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "stream_events",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column("campaign_id", sa.UUID(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", "seq", name=op.f("pk_stream_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_stream_events_event_id")),
        schema="reporting",
    )
    op.create_table(
        "tenant_stream_counters",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_stream_counters")),
        schema="reporting",
    )
    op.create_table(
        "tenants",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenants")),
        schema="reporting",
    )
    op.create_table(
        "visit_facts",
        sa.Column("visit_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("campaign_id", sa.UUID(), nullable=True),
        sa.Column("account_id", sa.UUID(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_check_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "first_verified_check_in_at", sa.DateTime(timezone=True), nullable=True
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("person_met", sa.String(length=20), nullable=True),
        sa.Column("contact", sa.Boolean(), nullable=True),
        sa.Column("debtor_lives_there", sa.Boolean(), nullable=True),
        sa.Column("promise_amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("promise_currency", sa.String(length=3), nullable=True),
        sa.Column("out_of_coverage_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("nearest_agent_distance_m", sa.Float(), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "state",
            sa.String(length=20),
            sa.Computed(
                (
                    "CASE"
                    " WHEN completed_at IS NOT NULL THEN 'completed'"
                    " WHEN out_of_coverage_at IS NOT NULL THEN 'out_of_coverage'"
                    " WHEN expired_at IS NOT NULL THEN 'expired'"
                    " WHEN first_check_in_at IS NOT NULL THEN 'checked_in'"
                    " WHEN assigned_at IS NOT NULL THEN 'assigned' ELSE 'requested' END"
                ),
                persisted=True,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("visit_id", name=op.f("pk_visit_facts")),
        schema="reporting",
    )
    op.create_index(
        "ix_visit_facts_tenant_campaign",
        "visit_facts",
        ["tenant_id", "campaign_id"],
        unique=False,
        schema="reporting",
    )
    op.create_table(
        "webhook_messages",
        sa.Column("msg_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("msg_id", name=op.f("pk_webhook_messages")),
        schema="reporting",
    )
    op.create_table(
        "webhook_subscriptions",
        sa.Column("subscription_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column(
            "event_types", postgresql.ARRAY(sa.String(length=50)), nullable=False
        ),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint(
            "subscription_id", name=op.f("pk_webhook_subscriptions")
        ),
        schema="reporting",
    )
    op.create_index(
        op.f("ix_reporting_webhook_subscriptions_tenant_id"),
        "webhook_subscriptions",
        ["tenant_id"],
        unique=False,
        schema="reporting",
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("subscription_id", sa.UUID(), nullable=False),
        sa.Column("msg_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["msg_id"],
            ["reporting.webhook_messages.msg_id"],
            name=op.f("fk_webhook_deliveries_msg_id_webhook_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["reporting.webhook_subscriptions.subscription_id"],
            name=op.f("fk_webhook_deliveries_subscription_id_webhook_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "subscription_id",
            "msg_id",
            name=op.f("uq_webhook_deliveries_subscription_id_msg_id"),
        ),
        schema="reporting",
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        unique=False,
        schema="reporting",
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("attempt_id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("delivery_id", sa.UUID(), nullable=False),
        sa.Column("subscription_id", sa.UUID(), nullable=False),
        sa.Column("attempt_number", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["reporting.webhook_deliveries.delivery_id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
        ),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_webhook_attempts")),
        schema="reporting",
    )
    op.create_index(
        "ix_webhook_attempts_subscription",
        "webhook_attempts",
        ["subscription_id", "attempted_at"],
        unique=False,
        schema="reporting",
    )


def downgrade() -> None:
    op.drop_index(
        "ix_webhook_attempts_subscription",
        table_name="webhook_attempts",
        schema="reporting",
    )
    op.drop_table("webhook_attempts", schema="reporting")
    op.drop_index(
        "ix_webhook_deliveries_due",
        table_name="webhook_deliveries",
        schema="reporting",
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.drop_table("webhook_deliveries", schema="reporting")
    op.drop_index(
        op.f("ix_reporting_webhook_subscriptions_tenant_id"),
        table_name="webhook_subscriptions",
        schema="reporting",
    )
    op.drop_table("webhook_subscriptions", schema="reporting")
    op.drop_table("webhook_messages", schema="reporting")
    op.drop_index(
        "ix_visit_facts_tenant_campaign", table_name="visit_facts", schema="reporting"
    )
    op.drop_table("visit_facts", schema="reporting")
    op.drop_table("tenants", schema="reporting")
    op.drop_table("tenant_stream_counters", schema="reporting")
    op.drop_table("stream_events", schema="reporting")
    op.drop_index(
        "ix_outbox_unsent",
        table_name="outbox",
        schema="reporting",
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.drop_table("outbox", schema="reporting")
    op.drop_table("idempotency_keys", schema="reporting")
    op.drop_table("handled_events", schema="reporting")
    op.drop_index(
        op.f("ix_reporting_campaigns_tenant_id"),
        table_name="campaigns",
        schema="reporting",
    )
    op.drop_table("campaigns", schema="reporting")
    op.drop_index(
        op.f("ix_reporting_api_keys_tenant_id"),
        table_name="api_keys",
        schema="reporting",
    )
    op.drop_table("api_keys", schema="reporting")
    op.drop_table("accounts", schema="reporting")
