"""add webhook secret rotation, failure tracking and manual redeliveries

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 02:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "reporting"


def upgrade() -> None:
    op.add_column(
        "webhook_subscriptions",
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        schema=SCHEMA,
    )
    op.add_column(
        "webhook_subscriptions",
        sa.Column(
            "previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True
        ),
        schema=SCHEMA,
    )
    op.add_column(
        "webhook_subscriptions",
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.add_column(
        "webhook_deliveries",
        sa.Column(
            "origin", sa.String(length=20), nullable=False, server_default="event"
        ),
        schema=SCHEMA,
    )
    # A redelivery or a replay is a new delivery of the same message, so only
    # the delivery that the event itself queued stays unique.
    op.drop_constraint(
        "uq_webhook_deliveries_subscription_id_msg_id",
        "webhook_deliveries",
        schema=SCHEMA,
    )
    op.create_index(
        "uq_webhook_deliveries_event",
        "webhook_deliveries",
        ["subscription_id", "msg_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("origin = 'event'"),
    )
    op.create_index(
        "ix_webhook_messages_tenant_created",
        "webhook_messages",
        ["tenant_id", "created_at"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_webhook_messages_tenant_created", "webhook_messages", schema=SCHEMA
    )
    # Redeliveries break the old uniqueness, so they go before it comes back.
    op.execute(
        "DELETE FROM reporting.webhook_attempts a"
        " USING reporting.webhook_deliveries d"
        " WHERE a.delivery_id = d.delivery_id AND d.origin <> 'event'"
    )
    op.execute("DELETE FROM reporting.webhook_deliveries WHERE origin <> 'event'")
    op.drop_index("uq_webhook_deliveries_event", "webhook_deliveries", schema=SCHEMA)
    op.create_unique_constraint(
        "uq_webhook_deliveries_subscription_id_msg_id",
        "webhook_deliveries",
        ["subscription_id", "msg_id"],
        schema=SCHEMA,
    )
    op.drop_column("webhook_deliveries", "origin", schema=SCHEMA)
    op.drop_column("webhook_subscriptions", "failing_since", schema=SCHEMA)
    op.drop_column("webhook_subscriptions", "previous_secret_expires_at", schema=SCHEMA)
    op.drop_column("webhook_subscriptions", "previous_secret", schema=SCHEMA)
