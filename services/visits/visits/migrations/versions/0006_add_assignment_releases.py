"""remember which assignment holds a visit, and every assignment released

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 23:00:00

Visits assigned before this revision have no `assignment_id`; a release of
theirs is matched on the agent instead.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "visits"


def upgrade() -> None:
    op.add_column(
        "visits",
        sa.Column("assignment_id", postgresql.UUID(as_uuid=True), nullable=True),
        schema=SCHEMA,
    )
    op.create_table(
        "assignment_releases",
        sa.Column("assignment_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("visit_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("tenant_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("agent_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            [f"{SCHEMA}.visits.visit_id"],
            name=op.f("fk_assignment_releases_visit_id_visits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("assignment_id", name=op.f("pk_assignment_releases")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_assignment_releases_visit_id_agent_id"),
        "assignment_releases",
        ["visit_id", "agent_id"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_assignment_releases_visit_id_agent_id"),
        "assignment_releases",
        schema=SCHEMA,
    )
    op.drop_table("assignment_releases", schema=SCHEMA)
    op.drop_column("visits", "assignment_id", schema=SCHEMA)
