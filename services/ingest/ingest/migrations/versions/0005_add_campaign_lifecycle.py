"""add campaign lifecycle, account flags, revisits and payments

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    _alter_accounts()
    _alter_campaigns()
    _create_campaign_visits()
    _create_revisits()
    op.create_table(
        "visit_policies",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("revisit_delay_seconds", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("max_visits_per_week", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_visit_policies")),
        schema=SCHEMA,
    )
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{SCHEMA}.accounts.account_id"],
            name=op.f("fk_payments_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payments")),
        sa.UniqueConstraint(
            "tenant_id",
            "account_id",
            "reference",
            name=op.f("uq_payments_tenant_id_account_id_reference"),
        ),
        schema=SCHEMA,
    )


def _alter_accounts() -> None:
    columns = [
        sa.Column(
            "tags",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("do_not_visit_reason", sa.String(length=30), nullable=True),
        sa.Column("do_not_contact_reason", sa.String(length=30), nullable=True),
        sa.Column("flag_note", sa.Text(), nullable=True),
        sa.Column("recalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_visit_outcome", sa.String(length=20), nullable=True),
        sa.Column("last_visited_at", sa.DateTime(timezone=True), nullable=True),
    ]
    for column in columns:
        op.add_column("accounts", column, schema=SCHEMA)
    op.create_index(
        "ix_accounts_tags",
        "accounts",
        ["tags"],
        unique=False,
        schema=SCHEMA,
        postgresql_using="gin",
    )


def _alter_campaigns() -> None:
    op.add_column(
        "campaigns",
        sa.Column("brief", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema=SCHEMA,
    )
    op.add_column(
        "campaigns",
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.add_column(
        "campaigns",
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.create_check_constraint(
        op.f("ck_campaigns_status"),
        "campaigns",
        "status IN ('draft', 'launched', 'paused', 'cancelled', 'completed')",
        schema=SCHEMA,
    )


def _create_campaign_visits() -> None:
    op.create_table(
        "campaign_visits",
        sa.Column("visit_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("campaign_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawal_reason", sa.String(length=30), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("person_met", sa.String(length=20), nullable=True),
        sa.CheckConstraint(
            "state IN ('requested', 'withdrawn', 'completed')",
            name=op.f("ck_campaign_visits_state"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{SCHEMA}.accounts.account_id"],
            name=op.f("fk_campaign_visits_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            [f"{SCHEMA}.campaigns.campaign_id"],
            name=op.f("fk_campaign_visits_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("visit_id", name=op.f("pk_campaign_visits")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_campaign_visits_campaign_state",
        "campaign_visits",
        ["campaign_id", "state"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(
        "ix_campaign_visits_account_requested",
        "campaign_visits",
        ["account_id", "requested_at"],
        unique=False,
        schema=SCHEMA,
    )
    # Visits requested before this revision become attempt 1 of their campaign.
    op.execute(
        f"""
        INSERT INTO {SCHEMA}.campaign_visits
            (visit_id, tenant_id, campaign_id, account_id, attempt, state,
             requested_at)
        SELECT ca.visit_id, ca.tenant_id, ca.campaign_id, ca.account_id, 1,
               'requested', coalesce(c.launched_at, now())
        FROM {SCHEMA}.campaign_accounts ca
        JOIN {SCHEMA}.campaigns c ON c.campaign_id = ca.campaign_id
        WHERE ca.visit_id IS NOT NULL
        """
    )


def _create_revisits() -> None:
    op.create_table(
        "revisits",
        sa.Column("revisit_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("campaign_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("previous_visit_id", sa.UUID(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("visit_id", sa.UUID(), nullable=True),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('scheduled', 'requested', 'skipped', 'cancelled')",
            name=op.f("ck_revisits_state"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{SCHEMA}.accounts.account_id"],
            name=op.f("fk_revisits_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            [f"{SCHEMA}.campaigns.campaign_id"],
            name=op.f("fk_revisits_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("revisit_id", name=op.f("pk_revisits")),
        sa.UniqueConstraint(
            "previous_visit_id", name=op.f("uq_revisits_previous_visit_id")
        ),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_ingest_revisits_campaign_id"),
        "revisits",
        ["campaign_id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(
        "ix_revisits_due",
        "revisits",
        ["due_at"],
        unique=False,
        schema=SCHEMA,
        postgresql_where=sa.text("state = 'scheduled'"),
    )


def downgrade() -> None:
    op.drop_table("payments", schema=SCHEMA)
    op.drop_table("visit_policies", schema=SCHEMA)
    op.drop_index("ix_revisits_due", table_name="revisits", schema=SCHEMA)
    op.drop_table("revisits", schema=SCHEMA)
    op.drop_table("campaign_visits", schema=SCHEMA)
    op.drop_constraint(
        op.f("ck_campaigns_status"), "campaigns", schema=SCHEMA, type_="check"
    )
    for column in ("ended_at", "paused_at", "brief"):
        op.drop_column("campaigns", column, schema=SCHEMA)
    op.drop_index("ix_accounts_tags", table_name="accounts", schema=SCHEMA)
    for column in (
        "last_visited_at",
        "last_visit_outcome",
        "recalled_at",
        "flag_note",
        "do_not_contact_reason",
        "do_not_visit_reason",
        "tags",
    ):
        op.drop_column("accounts", column, schema=SCHEMA)
