"""keep each request's campaign wait, so that a released visit waits anew

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 00:00:00

Requests stored before this revision keep NULL: a release leaves their
`wait_until` as it was.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "matching"


def upgrade() -> None:
    op.add_column(
        "visit_requests",
        sa.Column("max_wait_seconds", sa.Integer(), nullable=True),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("visit_requests", "max_wait_seconds", schema=SCHEMA)
