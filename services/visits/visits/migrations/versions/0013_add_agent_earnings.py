"""add the agent earnings ledger, insert-only

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 02:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The ledger is the record of what agents were paid: a correction is a new
# row, so the database itself refuses to change or remove one.
REFUSE_CHANGES_FUNCTION = """
CREATE FUNCTION visits.agent_earnings_insert_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'visits.agent_earnings is insert-only; write a reversal row'
        USING ERRCODE = 'restrict_violation';
END
$$
"""
REFUSE_CHANGES_TRIGGER = """
CREATE TRIGGER agent_earnings_insert_only
    BEFORE UPDATE OR DELETE ON visits.agent_earnings
    FOR EACH ROW EXECUTE FUNCTION visits.agent_earnings_insert_only();
"""


def upgrade() -> None:
    op.create_table(
        "agent_earnings",
        sa.Column("movement_id", sa.UUID(), nullable=False),
        sa.Column("visit_id", sa.UUID(), nullable=False),
        sa.Column("agent_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("movement_id", name=op.f("pk_agent_earnings")),
        sa.UniqueConstraint(
            "visit_id",
            "kind",
            "reason",
            name=op.f("uq_agent_earnings_visit_id_kind_reason"),
        ),
        schema="visits",
    )
    op.create_index(
        "ix_agent_earnings_agent_id_occurred_at",
        "agent_earnings",
        ["agent_id", "occurred_at"],
        schema="visits",
    )
    op.create_index(
        "ix_agent_earnings_tenant_id_agent_id_occurred_at",
        "agent_earnings",
        ["tenant_id", "agent_id", "occurred_at"],
        schema="visits",
    )
    op.execute(REFUSE_CHANGES_FUNCTION)
    op.execute(REFUSE_CHANGES_TRIGGER)


def downgrade() -> None:
    op.drop_table("agent_earnings", schema="visits")
    op.execute("DROP FUNCTION visits.agent_earnings_insert_only()")
