"""store the ranking behind each offer, and each visit's time zone and hours

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 22:00:00

Offers made before this revision have no stored ranking, and requests no
time zone or campaign visiting hours; the new columns stay NULL for them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "matching"


def upgrade() -> None:
    op.add_column(
        "offers",
        sa.Column("ranking", postgresql.JSONB(), nullable=True),
        schema=SCHEMA,
    )
    op.add_column(
        "visit_requests",
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        schema=SCHEMA,
    )
    for name in ("visiting_start", "visiting_end"):
        op.add_column(
            "visit_requests",
            sa.Column(name, sa.Time(), nullable=True),
            schema=SCHEMA,
        )


def downgrade() -> None:
    for name in ("visiting_end", "visiting_start", "time_zone"):
        op.drop_column("visit_requests", name, schema=SCHEMA)
    op.drop_column("offers", "ranking", schema=SCHEMA)
