"""add the accuracy and the visit of a location a check-in observed

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 02:30:00

A verified check-in at a coarsely geocoded address places the account at
the door, with precision and source `visit`. The fix's accuracy says how
good that point is, and the visit says where it came from.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "accounts",
        sa.Column("location_accuracy_m", sa.Float(), nullable=True),
        schema="ingest",
    )
    op.add_column(
        "accounts",
        sa.Column("location_visit_id", sa.UUID(), nullable=True),
        schema="ingest",
    )
    op.add_column(
        "accounts",
        sa.Column("location_observed_at", sa.DateTime(timezone=True), nullable=True),
        schema="ingest",
    )


def downgrade() -> None:
    op.drop_column("accounts", "location_observed_at", schema="ingest")
    op.drop_column("accounts", "location_visit_id", schema="ingest")
    op.drop_column("accounts", "location_accuracy_m", schema="ingest")
