"""add promise grace days, broken promises and the payments applied to promises

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "tenant_visit_rules",
        sa.Column(
            "promise_grace_days", sa.Integer(), server_default="3", nullable=False
        ),
        schema="visits",
    )
    op.add_column(
        "promises",
        sa.Column("broken_at", sa.DateTime(timezone=True), nullable=True),
        schema="visits",
    )
    op.create_index(
        "ix_promises_open_due_date",
        "promises",
        ["due_date"],
        schema="visits",
        postgresql_where=sa.text(
            "status IN ('pending', 'partly_kept') AND broken_at IS NULL"
        ),
    )
    op.create_table(
        "promise_payments",
        sa.Column("payment_id", sa.UUID(), nullable=False),
        sa.Column("promise_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["promise_id"],
            ["visits.promises.promise_id"],
            name=op.f("fk_promise_payments_promise_id_promises"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_promise_payments")),
        schema="visits",
    )


def downgrade() -> None:
    op.drop_table("promise_payments", schema="visits")
    op.drop_index("ix_promises_open_due_date", table_name="promises", schema="visits")
    op.drop_column("promises", "broken_at", schema="visits")
    op.drop_column("tenant_visit_rules", "promise_grace_days", schema="visits")
