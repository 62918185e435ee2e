"""add the app and operator roles and row-level security on tenant rows

The services switch to campo_app on every connection; the policies on the
tenant-owned tables below let it see only the rows of the tenant its
transaction names, or every row under the platform scope.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 06:00:00
"""

from collections.abc import Sequence

from shared.rls import (
    disable_tenant_policies,
    enable_tenant_policies,
    ensure_roles,
    grant_schema,
    revoke_schema,
)

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"
# Tenant-owned tables. The outbox, handled events, the tenant directory, API
# keys and idempotency records are the platform's machinery: they are read
# before a tenant is known (authentication) or across tenants (the relay).
# Users and refresh tokens stay out too: logging in finds a person by email
# before any tenant is known.
TENANT_TABLES = (
    "account_history",
    "accounts",
    "campaign_accounts",
    "campaign_visits",
    "campaigns",
    "column_mappings",
    "payments",
    "revisits",
    "upload_errors",
    "upload_row_cells",
    "upload_settings",
    "uploads",
    "visit_policies",
)


def upgrade() -> None:
    ensure_roles()
    grant_schema(SCHEMA)
    enable_tenant_policies(SCHEMA, TENANT_TABLES)


def downgrade() -> None:
    disable_tenant_policies(SCHEMA, TENANT_TABLES)
    revoke_schema(SCHEMA)
