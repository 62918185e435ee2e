"""add cross streets and address references to visits

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 15:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "visits",
        sa.Column("cross_streets", sa.String(length=300), nullable=True),
        schema="visits",
    )
    op.add_column(
        "visits",
        sa.Column("address_references", sa.String(length=500), nullable=True),
        schema="visits",
    )


def downgrade() -> None:
    op.drop_column("visits", "address_references", schema="visits")
    op.drop_column("visits", "cross_streets", schema="visits")
