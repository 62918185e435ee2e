"""add result codes, contact updates, visiting hours and tenant visit rules

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    visit_columns = [
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("visiting_start", sa.Time(), nullable=True),
        sa.Column("visiting_end", sa.Time(), nullable=True),
        sa.Column("visiting_days", postgresql.JSONB(), nullable=True),
    ]
    for column in visit_columns:
        op.add_column("visits", column, schema="visits")
    # The weekly limit counts an account's check-ins across its visits.
    op.create_index(
        "ix_visits_tenant_id_account_id",
        "visits",
        ["tenant_id", "account_id"],
        schema="visits",
    )
    op.add_column(
        "results",
        sa.Column("result_code", sa.String(length=60), nullable=True),
        schema="visits",
    )
    op.add_column(
        "results",
        sa.Column("contact_update", postgresql.JSONB(), nullable=True),
        schema="visits",
    )
    op.create_table(
        "tenant_result_codes",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("label_es", sa.String(length=200), nullable=False),
        sa.Column("label_en", sa.String(length=200), nullable=False),
        sa.Column("worked", sa.Boolean(), nullable=False),
        sa.Column("promise", sa.Boolean(), nullable=False),
        sa.Column("debtor_gone", sa.Boolean(), nullable=False),
        sa.Column("revisit", sa.Boolean(), nullable=False),
        sa.Column("billable", sa.Boolean(), nullable=False),
        sa.Column("agent_paid", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", "code"),
        schema="visits",
    )
    op.create_table(
        "tenant_visit_rules",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("max_visits_per_account_week", sa.Integer(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id"),
        schema="visits",
    )


def downgrade() -> None:
    op.drop_table("tenant_visit_rules", schema="visits")
    op.drop_table("tenant_result_codes", schema="visits")
    op.drop_column("results", "contact_update", schema="visits")
    op.drop_column("results", "result_code", schema="visits")
    op.drop_index(
        "ix_visits_tenant_id_account_id", table_name="visits", schema="visits"
    )
    for name in ("visiting_days", "visiting_end", "visiting_start", "time_zone"):
        op.drop_column("visits", name, schema="visits")
