"""keep the zone of each visit's address apart, for masked exports

A caller without personal:read gets exports with the street lines of
each address masked, but with its postal code, municipality and state:
figures by zone need them. `address` is one formatted line that cannot
be split back, so the zone gets a column of its own. Rows stored before
it have none, and their masked address reads `***`: the one-line address
cannot be split back reliably.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 09:00:00
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
        "visit_details",
        sa.Column("address_zone", sa.Text(), nullable=True),
        schema="reporting",
    )


def downgrade() -> None:
    op.drop_column("visit_details", "address_zone", schema="reporting")
