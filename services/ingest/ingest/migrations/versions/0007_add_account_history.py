"""add account history and the unchanged count of uploads

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.add_column(
        "uploads",
        sa.Column(
            "accounts_unchanged", sa.Integer(), server_default="0", nullable=False
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "account_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("upload_id", sa.UUID(), nullable=True),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("changes", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_history")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_account_history_tenant_id_account_id"),
        "account_history",
        ["tenant_id", "account_id", "id"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_account_history_tenant_id_account_id"),
        table_name="account_history",
        schema=SCHEMA,
    )
    op.drop_table("account_history", schema=SCHEMA)
    op.drop_column("uploads", "accounts_unchanged", schema=SCHEMA)
