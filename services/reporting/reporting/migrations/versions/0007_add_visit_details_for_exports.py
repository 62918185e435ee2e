"""add the visit details that campaign exports read

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visit_details",
        sa.Column("visit_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("campaign_id", sa.UUID(), nullable=True),
        sa.Column("account_key", sa.String(length=200), nullable=True),
        sa.Column("debtor_name", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("address_lat", sa.Float(), nullable=True),
        sa.Column("address_lon", sa.Float(), nullable=True),
        sa.Column("agent_id", sa.UUID(), nullable=True),
        sa.Column("check_in_lat", sa.Float(), nullable=True),
        sa.Column("check_in_lon", sa.Float(), nullable=True),
        sa.Column("check_in_distance_m", sa.Float(), nullable=True),
        sa.Column("check_in_accuracy_m", sa.Float(), nullable=True),
        sa.Column("check_in_verified", sa.Boolean(), nullable=True),
        sa.Column("result_code", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("new_phone", sa.String(length=100), nullable=True),
        sa.Column("promise_due_date", sa.Date(), nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=True),
        sa.Column("photo_ids", postgresql.ARRAY(sa.UUID()), nullable=True),
        sa.Column(
            "reported_phones", postgresql.JSONB(astext_type=sa.Text()), nullable=True
        ),
        sa.PrimaryKeyConstraint("visit_id"),
        schema="reporting",
    )
    op.create_index(
        "ix_visit_details_tenant_campaign",
        "visit_details",
        ["tenant_id", "campaign_id"],
        unique=False,
        schema="reporting",
    )


def downgrade() -> None:
    op.drop_index(
        "ix_visit_details_tenant_campaign",
        table_name="visit_details",
        schema="reporting",
    )
    op.drop_table("visit_details", schema="reporting")
