"""add the columns behind the figures per agent, zone and day

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATE_BEFORE = (
    "CASE"
    " WHEN completed_at IS NOT NULL THEN 'completed'"
    " WHEN out_of_coverage_at IS NOT NULL THEN 'out_of_coverage'"
    " WHEN expired_at IS NOT NULL THEN 'expired'"
    " WHEN cancelled_at IS NOT NULL THEN 'cancelled'"
    " WHEN first_check_in_at IS NOT NULL THEN 'checked_in'"
    " WHEN assigned_at IS NOT NULL THEN 'assigned' ELSE 'requested' END"
)
STATE_AFTER = (
    "CASE"
    " WHEN rejected_at IS NOT NULL AND rejection_overturned_at IS NULL"
    " THEN 'rejected'"
    " WHEN completed_at IS NOT NULL THEN 'completed'"
    " WHEN out_of_coverage_at IS NOT NULL THEN 'out_of_coverage'"
    " WHEN expired_at IS NOT NULL THEN 'expired'"
    " WHEN cancelled_at IS NOT NULL THEN 'cancelled'"
    " WHEN first_check_in_at IS NOT NULL THEN 'checked_in'"
    " WHEN assigned_at IS NOT NULL THEN 'assigned' ELSE 'requested' END"
)

TIME = sa.DateTime(timezone=True)
NEW_COLUMNS = (
    ("agent_id", sa.UUID()),
    ("agent_assigned_at", TIME),
    ("completed_agent_id", sa.UUID()),
    ("address_state", sa.String(length=100)),
    ("municipality", sa.String(length=200)),
    ("postal_code", sa.String(length=5)),
    ("time_zone", sa.String(length=64)),
    ("deadline", TIME),
    ("fraud_score", sa.Float()),
    ("flagged", sa.Boolean()),
    ("rejected_at", TIME),
    ("rejection_overturned_at", TIME),
    ("promise_status", sa.String(length=20)),
    ("promise_amount_paid", sa.Numeric(precision=14, scale=2)),
    ("promise_status_at", TIME),
)


def _replace_state(expression: str) -> None:
    # PostgreSQL 15 cannot change a generated column's expression in place.
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
    for name, type_ in NEW_COLUMNS:
        op.add_column(
            "visit_facts", sa.Column(name, type_, nullable=True), schema="reporting"
        )
    _replace_state(STATE_AFTER)
    op.create_index(
        "ix_visit_facts_tenant_requested",
        "visit_facts",
        ["tenant_id", "requested_at"],
        schema="reporting",
    )


def downgrade() -> None:
    op.drop_index("ix_visit_facts_tenant_requested", "visit_facts", schema="reporting")
    _replace_state(STATE_BEFORE)
    for name, _ in reversed(NEW_COLUMNS):
        op.drop_column("visit_facts", name, schema="reporting")
