"""keep payments that arrive before their promise, per account

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 02:45:00

A payment reported while the account has no open promise was dropped, so
a debtor who paid before the agent's result was filed never kept the
promise. Such a payment is now stored without a promise, with its account,
currency and payment date, for a promise recorded later to take.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("promise_payments", "promise_id", nullable=True, schema="visits")
    op.add_column(
        "promise_payments",
        sa.Column("account_id", sa.UUID(), nullable=True),
        schema="visits",
    )
    op.add_column(
        "promise_payments",
        sa.Column("currency", sa.String(length=3), nullable=True),
        schema="visits",
    )
    op.add_column(
        "promise_payments",
        sa.Column("paid_on", sa.Date(), nullable=True),
        schema="visits",
    )
    op.create_index(
        "ix_promise_payments_unclaimed",
        "promise_payments",
        ["tenant_id", "account_id"],
        schema="visits",
        postgresql_where=sa.text("promise_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_promise_payments_unclaimed", table_name="promise_payments", schema="visits"
    )
    op.execute("DELETE FROM visits.promise_payments WHERE promise_id IS NULL")
    op.drop_column("promise_payments", "paid_on", schema="visits")
    op.drop_column("promise_payments", "currency", schema="visits")
    op.drop_column("promise_payments", "account_id", schema="visits")
    op.alter_column("promise_payments", "promise_id", nullable=False, schema="visits")
