"""add API key scopes, the signing key directory and the audit log

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 02:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The scopes that existed when this migration was written, frozen here so
# that adding a scope later does not change what this migration did.
SCOPES_THEN = (
    "accounts:read",
    "accounts:write",
    "audit:read",
    "campaigns:read",
    "campaigns:write",
    "keys:manage",
    "payments:write",
    "results:read",
    "settings:read",
    "settings:write",
    "users:manage",
    "visits:review",
    "webhooks:manage",
)
SCHEMA = "reporting"


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("name", sa.String(length=200)), schema=SCHEMA)
    # Keys made before scopes existed could do everything; they keep that.
    everything = "ARRAY[" + ", ".join(f"'{s}'" for s in SCOPES_THEN)
    op.add_column(
        "api_keys",
        sa.Column(
            "scopes",
            postgresql.ARRAY(sa.Text()),
            nullable=False,
            server_default=sa.text(everything + "]::text[]"),
        ),
        schema=SCHEMA,
    )
    op.alter_column("api_keys", "scopes", server_default=None, schema=SCHEMA)
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("public_jwk", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
        schema=SCHEMA,
    )
    op.create_table(
        "audit_log",
        sa.Column("audit_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("service", sa.String(length=20), nullable=False),
        sa.Column("resource", sa.String(length=40), nullable=False),
        sa.Column("resource_ids", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("visit_id", sa.UUID(), nullable=True),
        sa.Column("campaign_id", sa.UUID(), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("audit_id", name=op.f("pk_audit_log")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_audit_log_tenant_read_at",
        "audit_log",
        ["tenant_id", "read_at"],
        unique=False,
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index("ix_audit_log_tenant_read_at", table_name="audit_log", schema=SCHEMA)
    op.drop_table("audit_log", schema=SCHEMA)
    op.drop_table("signing_keys", schema=SCHEMA)
    op.drop_column("api_keys", "scopes", schema=SCHEMA)
    op.drop_column("api_keys", "name", schema=SCHEMA)
