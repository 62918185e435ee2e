"""add the precision of each visit's geocode, to widen the geofence of coarse ones

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "visits",
        sa.Column("location_precision", sa.String(length=20), nullable=True),
        schema="visits",
    )
    op.add_column(
        "visits",
        sa.Column("location_accuracy_m", sa.Float(), nullable=True),
        schema="visits",
    )


def downgrade() -> None:
    op.drop_column("visits", "location_accuracy_m", schema="visits")
    op.drop_column("visits", "location_precision", schema="visits")
