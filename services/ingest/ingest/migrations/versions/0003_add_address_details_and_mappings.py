"""add address details, credit numbers, dates and saved column mappings

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACCOUNT_COLUMNS = (
    ("cross_streets", sa.String(length=300)),
    ("address_references", sa.String(length=500)),
    ("credit_number", sa.String(length=100)),
    ("last_payment_date", sa.Date()),
    ("birth_date", sa.Date()),
)


def upgrade() -> None:
    for name, column_type in _ACCOUNT_COLUMNS:
        op.add_column(
            "accounts", sa.Column(name, column_type, nullable=True), schema="ingest"
        )
    op.create_table(
        "column_mappings",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("mapping", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_column_mappings")),
        schema="ingest",
    )


def downgrade() -> None:
    op.drop_table("column_mappings", schema="ingest")
    for name, _ in reversed(_ACCOUNT_COLUMNS):
        op.drop_column("accounts", name, schema="ingest")
