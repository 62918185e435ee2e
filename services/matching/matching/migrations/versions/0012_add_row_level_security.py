"""add the app and operator roles and row-level security on tenant rows

The services switch to campo_app on every connection; the policies on the
tenant-owned tables below let it see only the rows of the tenant its
transaction names, or every row under the platform scope.

Revision ID: 0012
Revises: 0011
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

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "matching"
# Tenant-owned tables. The outbox, handled events, the tenant directory, API
# keys and idempotency records are the platform's machinery: they are read
# before a tenant is known (authentication) or across tenants (the relay).
# Agents, their working hours and daily load are the platform's.
TENANT_TABLES = (
    "assignments",
    "offers",
    "visit_requests",
)


def upgrade() -> None:
    ensure_roles()
    grant_schema(SCHEMA)
    enable_tenant_policies(SCHEMA, TENANT_TABLES)


def downgrade() -> None:
    disable_tenant_policies(SCHEMA, TENANT_TABLES)
    revoke_schema(SCHEMA)
