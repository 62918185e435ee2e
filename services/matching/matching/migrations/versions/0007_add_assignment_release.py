"""record why and when an assignment was released, and its check-in deadline

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 23:00:00

Assignments made before this revision have no `check_in_by`, so the pass
that releases assignments without a check-in never picks them up.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "matching"
REASONS = (
    "cannot_reach",
    "unsafe",
    "schedule_conflict",
    "personal",
    "other",
    "no_check_in",
    "agent_suspended",
    "visit_withdrawn",
)


def upgrade() -> None:
    op.add_column(
        "assignments",
        sa.Column("check_in_by", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.add_column(
        "assignments",
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.add_column(
        "assignments",
        sa.Column("release_reason", sa.String(length=30), nullable=True),
        schema=SCHEMA,
    )
    op.add_column(
        "assignments",
        sa.Column("release_note", sa.String(length=500), nullable=True),
        schema=SCHEMA,
    )
    listed = ", ".join(f"'{reason}'" for reason in REASONS)
    op.create_check_constraint(
        op.f("ck_assignments_release_reason"),
        "assignments",
        f"release_reason IS NULL OR release_reason IN ({listed})",
        schema=SCHEMA,
    )
    op.create_index(
        "ix_assignments_check_in_due",
        "assignments",
        ["check_in_by"],
        schema=SCHEMA,
        postgresql_where=sa.text("state = 'active' AND checked_in_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_assignments_check_in_due", "assignments", schema=SCHEMA)
    op.drop_constraint(
        op.f("ck_assignments_release_reason"),
        "assignments",
        type_="check",
        schema=SCHEMA,
    )
    for name in ("release_note", "release_reason", "checked_in_at", "check_in_by"):
        op.drop_column("assignments", name, schema=SCHEMA)
