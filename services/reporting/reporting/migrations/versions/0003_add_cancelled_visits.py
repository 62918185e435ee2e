"""add cancelled visits to the visit facts

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATE_BEFORE = (
    "CASE"
    " WHEN completed_at IS NOT NULL THEN 'completed'"
    " WHEN out_of_coverage_at IS NOT NULL THEN 'out_of_coverage'"
    " WHEN expired_at IS NOT NULL THEN 'expired'"
    " WHEN first_check_in_at IS NOT NULL THEN 'checked_in'"
    " WHEN assigned_at IS NOT NULL THEN 'assigned' ELSE 'requested' END"
)
STATE_AFTER = (
    "CASE"
    " WHEN completed_at IS NOT NULL THEN 'completed'"
    " WHEN out_of_coverage_at IS NOT NULL THEN 'out_of_coverage'"
    " WHEN expired_at IS NOT NULL THEN 'expired'"
    " WHEN cancelled_at IS NOT NULL THEN 'cancelled'"
    " WHEN first_check_in_at IS NOT NULL THEN 'checked_in'"
    " WHEN assigned_at IS NOT NULL THEN 'assigned' ELSE 'requested' END"
)


def _replace_state(expression: str) -> None:
    # PostgreSQL 15 cannot change a generated column's expression in place,
    # so the column is dropped and added again; every row is recomputed.
    op.drop_column("visit_facts", "state", schema="reporting")
    op.add_column(
        "visit_facts",
        sa.Column(
            "state",
            sa.String(length=20),
            sa.Computed(expression, persisted=True),
            nullable=False,
        ),
        schema="reporting",
    )


def upgrade() -> None:
    op.add_column(
        "visit_facts",
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        schema="reporting",
    )
    op.add_column(
        "visit_facts",
        sa.Column("cancel_reason", sa.String(length=40), nullable=True),
        schema="reporting",
    )
    _replace_state(STATE_AFTER)


def downgrade() -> None:
    _replace_state(STATE_BEFORE)
    op.drop_column("visit_facts", "cancel_reason", schema="reporting")
    op.drop_column("visit_facts", "cancelled_at", schema="reporting")
