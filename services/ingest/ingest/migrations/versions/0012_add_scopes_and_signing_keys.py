"""add API key scopes, the signing keys, users and refresh tokens

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 02:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
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
SCHEMA = "ingest"


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
    upgrade_ingest_users()


def downgrade() -> None:
    op.drop_table("signing_key_secrets", schema=SCHEMA)
    op.drop_table("refresh_tokens", schema=SCHEMA)
    op.drop_table("users", schema=SCHEMA)
    op.drop_table("signing_keys", schema=SCHEMA)
    op.drop_column("api_keys", "scopes", schema=SCHEMA)
    op.drop_column("api_keys", "name", schema=SCHEMA)


def upgrade_ingest_users() -> None:
    """Create the users, their refresh tokens and the private signing keys."""
    op.create_table(
        "users",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_users_email", "users", [sa.text("lower(email)")], unique=True, schema=SCHEMA
    )
    op.create_index(
        op.f("ix_users_tenant_id"), "users", ["tenant_id"], unique=False, schema=SCHEMA
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("token_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("family_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            [f"{SCHEMA}.users.user_id"],
            name=op.f("fk_refresh_tokens_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_refresh_tokens_user_id"),
        "refresh_tokens",
        ["user_id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_refresh_tokens_family_id"),
        "refresh_tokens",
        ["family_id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "signing_key_secrets",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("encrypted_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_key_secrets")),
        schema=SCHEMA,
    )
