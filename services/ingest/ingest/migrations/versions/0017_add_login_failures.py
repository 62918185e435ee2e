"""keep failed logins and lockouts in the database

The lockout lived in each ingest process: two processes allowed twice the
attempts, and a restart forgot every lock. One row per (email, address)
digest now holds the recent failures and the lock for all of them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Not tenant-owned: logins are checked before a tenant is known. The
    # schema's default privileges grant it to the app and operator roles.
    op.create_table(
        "login_failures",
        sa.Column("pair_key", sa.String(64), primary_key=True),
        sa.Column("failures", sa.ARRAY(sa.DateTime(timezone=True)), nullable=False),
        sa.Column("locks", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure", sa.DateTime(timezone=True), nullable=False),
        schema="ingest",
    )
    op.create_index(
        "ix_login_failures_last_failure",
        "login_failures",
        ["last_failure"],
        schema="ingest",
    )


def downgrade() -> None:
    op.drop_table("login_failures", schema="ingest")
