"""keep the weekdays of a campaign's own visiting hours on each request

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 00:20:00

Requests stored before this revision keep NULL, which allows every day, as
matching did for them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "matching"


def upgrade() -> None:
    op.add_column(
        "visit_requests",
        sa.Column("visiting_days", postgresql.ARRAY(sa.String(9)), nullable=True),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("visit_requests", "visiting_days", schema=SCHEMA)
