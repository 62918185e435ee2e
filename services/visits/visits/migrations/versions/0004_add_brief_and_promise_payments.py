"""add the whole brief to visits and payments to promises

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "visits",
        sa.Column("brief", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema="visits",
    )
    op.add_column(
        "promises",
        sa.Column(
            "status", sa.String(length=20), server_default="pending", nullable=False
        ),
        schema="visits",
    )
    op.add_column(
        "promises",
        sa.Column(
            "amount_kept",
            sa.Numeric(precision=14, scale=2),
            server_default="0",
            nullable=False,
        ),
        schema="visits",
    )
    op.add_column(
        "promises",
        sa.Column("kept_at", sa.DateTime(timezone=True), nullable=True),
        schema="visits",
    )


def downgrade() -> None:
    op.drop_column("promises", "kept_at", schema="visits")
    op.drop_column("promises", "amount_kept", schema="visits")
    op.drop_column("promises", "status", schema="visits")
    op.drop_column("visits", "brief", schema="visits")
