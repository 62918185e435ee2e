"""add each campaign's dispatch policy

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 21:00:00

Campaigns created before dispatch modes were assigned with no acceptance
step and waited for an agent until their deadline, so they keep that: assign
mode, and a wait as long as the longest a campaign may set.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"
EARLIER_CAMPAIGNS = (
    '{"mode": "assign", "offer_timeout_seconds": 600, "broadcast_size": 5, '
    '"max_wait_seconds": 2592000}'
)


def upgrade() -> None:
    op.add_column(
        "campaigns",
        sa.Column("dispatch", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema=SCHEMA,
    )
    op.execute(
        sa.text(
            f"UPDATE {SCHEMA}.campaigns SET dispatch = CAST(:policy AS jsonb)"
        ).bindparams(policy=EARLIER_CAMPAIGNS)
    )
    op.alter_column("campaigns", "dispatch", nullable=False, schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("campaigns", "dispatch", schema=SCHEMA)
